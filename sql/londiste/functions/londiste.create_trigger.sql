-- londiste.create_trigger(i_queue_name text, i_table_name text, i_trg_args text[],
--     i_dest_table text, i_node_type text,
--     out ret_code int4, out ret_note text, out trigger_name text)
--
-- Creates (or re-creates) the replication triggers of queue i_queue_name on table i_dest_table
-- (the local name of the replicated table i_table_name) on a node of type i_node_type:
--   _londiste_<queue>           row trigger: pgq.logutriga('<queue>', <args>...) after insert
--                               or update or delete — on a root or branch with our pgq, the
--                               table's own logutriga pgq._tgrow_<relid>('<queue>', <args>...)
--                               (pgq._trigger_rowfn: the same events, a quarter less cost)
--   _londiste_<queue>_truncate  statement trigger: pgq.sqltriga('<queue>') after truncate,
--                               created only when missing
-- On a leaf both get the argument 'deny' (local writes refused; the replay runs as replica).
-- i_trg_args: 'tgflags=<letters>' picks the kind (I insert, U update, D delete: default all
-- three; L logutriga, Q sqltriga, J jsontriga; B before, A after; S skip); 'skip' (any case)
-- is the S flag; 'no_triggers' and 'virtual_table' create nothing; 'expect_sync',
-- 'skip_truncate', 'merge_all', 'no_merge' are add-table options and ignored; anything else is
-- passed to the row trigger as an argument. When the table is renamed locally (i_dest_table
-- differs from i_table_name) the row trigger also gets ev_extra1='<i_table_name>' (unless the
-- caller gave an ev_extra1=), so events carry the set's name of the table.
-- A SKIP trigger (BEFORE, its change is not applied) is named zzz__londiste_<queue> so that it
-- fires last; when the table already has one SKIP trigger of another name, that one is renamed
-- with the zzz_ prefix and ours is created without SKIP.
-- An existing row trigger of the same name is always dropped and created again (as 3.8, whose
-- comparison of the old arguments never matches); the truncate trigger is left as it is.
-- Returns 200 'OK'; 201 'Trigger not created' (no_triggers / virtual_table, or a leaf without
-- pgq's trigger functions); 403 'AFTER trigger cannot work with SKIP trigger(s)' (an AFTER
-- trigger asked for while the table has a SKIP trigger); 405 'Multiple SKIP triggers'.
-- trigger_name is always NULL, as in 3.8 (its local variable hides the output column); callers
-- know the name from the rule above.
-- Tables: pg_catalog.pg_trigger, pg_proc (read); the table's triggers (drop, create, rename).
create or replace function londiste.create_trigger(
    in i_queue_name text,
    in i_table_name text,
    in i_trg_args text[],
    in i_dest_table text,
    in i_node_type text,
    out ret_code int4,
    out ret_note text,
    out trigger_name text)
returns record
language plpgsql
as $$
declare
    rel         oid := londiste.find_table_oid(i_dest_table);
    qtbl        text := londiste.quote_fqname(i_dest_table);
    tg_name     text := '_londiste_' || i_queue_name;
    trunc_name  text := '_londiste_' || i_queue_name || '_truncate';
    tg_func     text := 'pgq.logutriga';
    tg_when     text := 'after';
    tg_events   text[] := '{}';
    -- trigger arguments, each already a quoted SQL literal
    tg_args     text[] := array[quote_literal(i_queue_name)];
    -- arguments both triggers get on a leaf
    extra_args  text[] := '{}';
    flags       text := '';
    want_skip   boolean := false;
    no_triggers boolean := false;
    has_extra1  boolean := false;
    skip_count  int4;
    skip_name   text;
    arg         text;
begin
    foreach arg in array coalesce(i_trg_args, '{}') loop
        if arg like 'tgflags=%' then
            flags := flags || upper(substr(arg, 9));
        elsif arg in ('no_triggers', 'virtual_table') then
            no_triggers := true;
        elsif lower(arg) = 'skip' then
            want_skip := true;
        elsif arg not in ('expect_sync', 'skip_truncate', 'merge_all', 'no_merge') then
            has_extra1 := has_extra1 or arg like 'ev_extra1=%';
            tg_args := tg_args || quote_literal(arg);
        end if;
    end loop;
    if no_triggers then
        ret_code := 201;
        ret_note := 'Trigger not created';
        return;
    end if;
    if i_dest_table <> i_table_name and not has_extra1 then
        tg_args := tg_args || quote_literal('ev_extra1=' || quote_literal(i_table_name));
    end if;

    -- flags: A wins over B; the last of Q, L, J in that order wins
    if position('B' in flags) > 0 then tg_when := 'before'; end if;
    if position('A' in flags) > 0 then tg_when := 'after'; end if;
    if position('Q' in flags) > 0 then tg_func := 'pgq.sqltriga'; end if;
    if position('L' in flags) > 0 then tg_func := 'pgq.logutriga'; end if;
    if position('J' in flags) > 0 then tg_func := 'pgq.jsontriga'; end if;
    if position('I' in flags) > 0 then tg_events := tg_events || 'insert'::text; end if;
    if position('U' in flags) > 0 then tg_events := tg_events || 'update'::text; end if;
    if position('D' in flags) > 0 then tg_events := tg_events || 'delete'::text; end if;
    if position('S' in flags) > 0 then want_skip := true; end if;
    if cardinality(tg_events) = 0 then
        tg_events := array['insert', 'update', 'delete'];
    end if;

    if i_node_type = 'leaf' then
        -- a leaf may run without pgq's trigger functions: then it gets no triggers
        perform 1
           from pg_catalog.pg_proc p
           join pg_catalog.pg_namespace n on n.oid = p.pronamespace
          where n.nspname = 'pgq' and p.proname in ('logutriga', 'sqltriga', 'jsontriga');
        if not found then
            ret_code := 201;
            ret_note := 'Trigger not created';
            return;
        end if;
        extra_args := array[quote_literal('deny')];
    end if;

    if want_skip or tg_when = 'after' then
        -- SKIP triggers: 'SKIP' is one of the arguments after the first (tgargs: NUL-terminated)
        select count(*), min(t.tgname) into skip_count, skip_name
          from pg_catalog.pg_trigger t
         where t.tgrelid = rel
           and position('\x00534b495000'::bytea in t.tgargs) > 0;
    end if;
    -- an AFTER trigger would never see the rows a SKIP trigger keeps out of the table
    if tg_when = 'after' and skip_count > 0 then
        ret_code := 403;
        ret_note := 'AFTER trigger cannot work with SKIP trigger(s)';
        return;
    end if;
    if want_skip then
        if skip_count = 0 then
            -- ours is the SKIP trigger: named to fire after every other BEFORE trigger
            tg_name := 'zzz_' || tg_name;
            tg_args := tg_args || quote_literal('SKIP');
        elsif skip_count = 1 then
            -- another trigger already skips: it must fire last, ours logs without skipping
            if position('zzz_' in skip_name) <> 1 then
                execute 'alter trigger ' || quote_ident(skip_name) || ' on ' || qtbl
                     || ' rename to ' || quote_ident('zzz_' || skip_name);
            end if;
        else
            ret_code := 405;
            ret_note := 'Multiple SKIP triggers';
            return;
        end if;
    end if;

    -- The table's own logutriga (pgq._trigger_rowfn): pgq.logutriga's arguments and events, at
    -- a quarter less cost per row. Only for the AFTER row trigger of a provider (a leaf's trigger
    -- only refuses writes), and only with our pgq (the C extension has no such function).
    if tg_func = 'pgq.logutriga' and tg_when = 'after' and not want_skip and i_node_type <> 'leaf'
       and to_regprocedure('pgq._trigger_rowfn(oid)') is not null
       and has_function_privilege('pgq._trigger_rowfn(oid)', 'execute') then
        tg_func := pgq._trigger_rowfn(rel);
    end if;

    if exists (select 1 from pg_catalog.pg_trigger t where t.tgrelid = rel and t.tgname = tg_name) then
        execute 'drop trigger if exists ' || quote_ident(tg_name) || ' on ' || qtbl;
    end if;
    execute 'create trigger ' || quote_ident(tg_name) || ' ' || tg_when || ' '
         || array_to_string(tg_events, ' or ') || ' on ' || qtbl
         || ' for each row execute procedure ' || tg_func || '('
         || array_to_string(tg_args || extra_args, ', ') || ')';
    if tg_func like 'pgq._tgrow_%' then
        -- its code now, not on the first row (which would go through pgq.logutriga's path)
        perform pgq._trigger_prepare(rel);
    end if;

    if not exists (select 1 from pg_catalog.pg_trigger t where t.tgrelid = rel and t.tgname = trunc_name) then
        execute 'create trigger ' || quote_ident(trunc_name) || ' after truncate on ' || qtbl
             || ' for each statement execute procedure pgq.sqltriga('
             || array_to_string(quote_literal(i_queue_name) || extra_args, ', ') || ')';
    end if;

    ret_code := 200;
    ret_note := 'OK';
end;
$$;
