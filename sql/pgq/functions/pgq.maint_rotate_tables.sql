-- pgq.maint_rotate_tables_step1(i_queue_name text) returns integer
--
-- Rotation, first half: when queue_rotation_period has passed since the last switch, the
-- previous rotation has completed (step2 recorded) and no consumer may still need the oldest
-- table, TRUNCATE the next table in the ring and make it current. Also deletes ticks that no
-- consumer can need any more. Does nothing (returns 0) when rotation is not due or the
-- table is locked by someone else (e.g. pg_dump); never waits for that lock.
-- Must commit before pgq.maint_rotate_tables_step2() runs in a later transaction.
-- Returns 0. Errors: 'queue % maint failure' on inconsistent state.
create or replace function pgq.maint_rotate_tables_step1(i_queue_name text)
returns integer
language plpgsql
as $$
declare
    q           record;
    oldest_tick bigint;
    oldest_xmin bigint;
    nr          integer;
    tbl         text;
begin
    select * into q
      from pgq.queue
     where queue_name = i_queue_name
       and queue_rotation_period is not null
       and queue_switch_step2 is not null
       and queue_switch_time + queue_rotation_period < current_timestamp
       for update;
    if not found then
        return 0;
    end if;
    if txid_current() < q.queue_switch_step1 then
        raise exception 'queue % maint failure: step1=%, current=%',
            i_queue_name, q.queue_switch_step1, txid_current() using errcode = 'PQ009';
    end if;

    -- A consumer whose last tick started before the previous switch completed may still read
    -- the previous table; rotating now would make the table after it current and the one
    -- before truncatable, so wait.
    select min(sub_last_tick) into oldest_tick from pgq.subscription where sub_queue = q.queue_id;
    if oldest_tick is not null then
        select txid_snapshot_xmin(tick_snapshot) into oldest_xmin
          from pgq.tick where tick_queue = q.queue_id and tick_id = oldest_tick;
        if not found then
            raise exception 'queue % maint failure: tick % not found', i_queue_name, oldest_tick
                using errcode = 'PQ009';
        end if;
        if oldest_xmin <= q.queue_switch_step2 then
            return 0;
        end if;
    end if;

    nr := (q.queue_cur_table + 1) % q.queue_ntables;
    tbl := pgq.quote_fqname(q.queue_data_pfx || '_' || nr::text);
    begin
        execute 'lock table ' || tbl || ' nowait';
        execute 'truncate ' || tbl;
    exception when lock_not_available then
        return 0;
    end;

    update pgq.queue
       set queue_cur_table = nr,
           queue_switch_time = current_timestamp,
           queue_switch_step1 = txid_current(),
           queue_switch_step2 = null
     where queue_id = q.queue_id;

    -- Ticks older than the previous switch can no longer start a batch for anyone.
    delete from pgq.tick
     where tick_queue = q.queue_id
       and txid_snapshot_xmin(tick_snapshot) < q.queue_switch_step2;
    return 0;
end;
$$;

-- pgq.maint_rotate_tables_step2() returns integer
--
-- Rotation, second half: records, in a transaction that started after step1 committed, the
-- txid from which on no transaction can write into the previous table. Returns 0.
create or replace function pgq.maint_rotate_tables_step2()
returns integer
language plpgsql
as $$
begin
    update pgq.queue set queue_switch_step2 = txid_current() where queue_switch_step2 is null;
    return 0;
end;
$$;
