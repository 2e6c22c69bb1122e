-- pgq._trigger_gen_insert(i_queue text, i_queue_expr text, i_vals text[], i_ind text) returns text
--
-- Code generation: PL/pgSQL statements that insert one event into queue i_queue the way
-- pgq.insert_event does, with the queue's id, sequence and event tables written into the code:
-- the INSERT goes straight into the current child pgq.event_<id>_<n> (one static statement
-- per child, chosen by queue_cur_table) instead of through pgq.event_all and two levels of
-- partition routing (~12,000 instructions per event: the routing set-up of every INSERT; one
-- INSERT … SELECT through the queue's own partitioned table was ~14,000 more per transaction
-- than this look-up and IF), and the sequence is a constant instead of a text-to-regclass
-- look-up. Readers see the same rows (the child is the partition the routing picks).
-- Anything that needs checks (the queue gone or re-created under another id, insert disabled,
-- a per-transaction limit, a table number the code does not know) calls pgq.insert_event,
-- which raises or counts as before; so does everything when the queue does not exist (yet) or
-- its tables are not the partitions create_queue makes.
--   i_queue_expr  the queue name as the code has it (a literal, or $1)
--   i_vals        six expressions: ev_type, ev_data, ev_extra1 .. ev_extra4
-- The code uses the variables _pgq_ic int4 and _pgq_id int8 (the event id from the
-- fallback; NULL after a direct insert). Every name in it is schema-qualified and the
-- comparisons are operator(pg_catalog.=): it runs in security-definer functions, with the
-- caller's search_path.
create or replace function pgq._trigger_gen_insert(i_queue text, i_queue_expr text, i_vals text[], i_ind text)
returns text
language plpgsql
stable
as $$
declare
    q record;
    seq text;
    leaf text;
    vals text := pg_catalog.array_to_string(i_vals, ', ');
    fallback text := i_ind || '_pgq_id := pgq.insert_event(' || i_queue_expr || ', ' || vals || E');\n';
    code text := '';
begin
    select queue_id, queue_data_pfx, queue_event_seq, queue_ntables into q
      from pgq.queue where queue_name = i_queue;
    if not found then
        return fallback;
    end if;
    select pg_catalog.format('%I.%I', n.nspname, c.relname) into seq
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.oid = pg_catalog.to_regclass(q.queue_event_seq) and c.relkind = 'S';
    if seq is null then
        return fallback;
    end if;
    for n in 0 .. q.queue_ntables - 1 loop
        leaf := null;
        select pg_catalog.format('%I.%I', ns.nspname, c.relname) into leaf
          from pg_catalog.pg_class c join pg_catalog.pg_namespace ns on ns.oid = c.relnamespace
         where c.oid = pg_catalog.to_regclass(q.queue_data_pfx || '_' || n) and c.relispartition and c.relkind = 'r';
        if leaf is null then
            return fallback;
        end if;
        code := code || pg_catalog.format(
            E'%s%s _pgq_ic operator(pg_catalog.=) %s then\n'
            '%s    insert into %s (ev_id, ev_time, ev_txid, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4, ev_queue, ev_table)\n'
            '%s    values (pg_catalog.nextval(%L::pg_catalog.regclass), pg_catalog.now(), pg_catalog.txid_current(), %s, %s, %s);\n',
            i_ind, case when n = 0 then 'if' else 'elsif' end, n, i_ind, leaf, i_ind, seq, vals, q.queue_id, n);
    end loop;
    return i_ind || E'select q.queue_cur_table into _pgq_ic from pgq.queue q\n'
        || i_ind || pg_catalog.format(E' where q.queue_id operator(pg_catalog.=) %s and not q.queue_disable_insert and q.queue_per_tx_limit is null;\n', q.queue_id)
        || code
        || i_ind || E'else\n' || '    ' || fallback
        || i_ind || E'end if;\n';
end;
$$;
