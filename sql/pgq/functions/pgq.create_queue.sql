-- pgq.create_queue(i_queue_name text) returns integer
--
-- Creates a queue: its row in pgq.queue, the sequences pgq.event_<id>_id_seq and
-- pgq.event_<id>_tick_seq, the event table pgq.event_<id> with queue_ntables rotating children
-- pgq.event_<id>_<n> (each indexed on ev_txid), grants, storage settings, and a first tick so
-- consumers can register at once.
-- Returns 1 when created, 0 when a queue of that name exists already.
-- Errors: NULL name ('Invalid NULL value').
-- Locks: ATTACH PARTITION takes SHARE UPDATE EXCLUSIVE on pgq.event_all, which does not block
-- producers of other queues.
create or replace function pgq.create_queue(i_queue_name text)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    qid      integer;
    pfx      text;
    ntables  integer;
    leaf     text;
begin
    if i_queue_name is null then
        raise exception 'Invalid NULL value' using errcode = 'PQ006';
    end if;
    -- Serialize creators of the same name so two racing calls give 1 and 0, not an error.
    perform pg_advisory_xact_lock(hashtext('pgq.create_queue'), hashtext(i_queue_name));
    perform 1 from pgq.queue where queue_name = i_queue_name;
    if found then
        return 0;
    end if;

    qid := nextval(pg_get_serial_sequence('pgq.queue', 'queue_id')::regclass);
    pfx := 'pgq.event_' || qid::text;
    insert into pgq.queue (queue_id, queue_name, queue_data_pfx, queue_event_seq, queue_tick_seq)
    values (qid, i_queue_name, pfx, pfx || '_id_seq', pfx || '_tick_seq')
    returning queue_ntables into ntables;

    execute format('create sequence pgq.%I', 'event_' || qid || '_tick_seq');
    execute format('create sequence pgq.%I', 'event_' || qid || '_id_seq');

    -- Built detached, then attached: CREATE TABLE … PARTITION OF would lock the root exclusively.
    execute format('create table pgq.%I (like pgq.event_all including defaults) partition by list (ev_table)',
                   'event_' || qid);
    execute format('alter table pgq.%I alter column ev_id set default nextval(%L), alter column ev_queue set default %s',
                   'event_' || qid, pfx || '_id_seq', qid);
    for i in 0 .. ntables - 1 loop
        leaf := 'event_' || qid || '_' || i;
        execute format('create table pgq.%I partition of pgq.%I for values in (%s)', leaf, 'event_' || qid, i);
        execute format('alter table pgq.%I alter column ev_table set default %s', leaf, i);
    end loop;
    execute format('alter table pgq.event_all attach partition pgq.%I for values in (%s)', 'event_' || qid, qid);
    -- Index names as in the C extension (event_<id>_<n>_txid_idx).
    for i in 0 .. ntables - 1 loop
        execute format('alter index pgq.%I rename to %I',
            (select c.relname from pg_index x join pg_class c on c.oid = x.indexrelid
              where x.indrelid = format('pgq.%I', 'event_' || qid || '_' || i)::regclass limit 1),
            'event_' || qid || '_' || i || '_txid_idx');
    end loop;

    perform pgq.grant_perms(i_queue_name);
    perform pgq.ticker(i_queue_name);
    perform pgq.tune_storage(i_queue_name);
    return 1;
end;
$$;
