-- pgq._trigger_prepare(i_relid oid) returns void
--
-- Makes sure table i_relid has an up-to-date generated encoder pgq._tgenc_<relid>(tgname, op,
-- new, old) returns text[] for its pgq.logutriga / pgq.sqltriga / pgq.jsontriga triggers, and
-- that the dispatcher pgq._trigger_encode knows it. Called by the triggers when the table's
-- plan token changed (see pgq._trigger_plantoken: the first transaction of a session, or after
-- DDL on the table) and when a trigger is missing from the encoder.
--
-- The encoder is regenerated when the table's signature changes: schema or table name,
-- columns (name, type, position), primary key, or the set of pgq triggers and their
-- arguments. Generated code quotes identifiers (quote_ident) and literals (quote_literal);
-- trigger expressions (when=, ev_*=) are SQL written by whoever may create triggers on the
-- table, and run with the privileges of the user whose DML fires the trigger, as in the C
-- original. The encoder takes record arguments, so it creates no dependency on the table
-- (DROP TABLE is never blocked); encoders of dropped tables are dropped when the
-- dispatcher is next regenerated.
--
-- The encoder first compares its plan token (see pgq._trigger_plantoken) with the session's
-- (setting pgq.tgt<relid>); when they differ it returns array[its token, null x 5, 'T', null]
-- and does nothing else (pgq._trigger_reencode then checks the table and records the token).
-- Otherwise it inserts the event (into the trigger's queue, with the function
-- pgq._trigger_queue_insert names: the queue's own, or pgq.insert_event) and returns
--   array[null x 6, status ('d' = event inserted, 'y' = no event, '?' = trigger unknown to the
--   encoder), skip_row ('y' for SKIP)]; for an AFTER trigger, whose return value is ignored, it
--   returns NULL instead of 'd' or 'y'.
-- Errors raised by the encoder (SQLSTATE PQ020): bad param to pgq trigger, SKIP in an AFTER
-- trigger, deny, Update/Delete on table without pkey, primary key update not allowed,
-- Unknown magic column, NULL key value, when= not boolean or NULL.
-- Security definer (creates functions in schema pgq); serialised with an advisory lock.
create or replace function pgq._trigger_prepare(i_relid oid)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    fn_oids oid[] := array[to_regprocedure('pgq.logutriga()'), to_regprocedure('pgq.sqltriga()'),
                           to_regprocedure('pgq.jsontriga()')]::oid[];
    sig text;
    cur_sig text;
    nsp text;
    tbl text;
    col_names text[];
    col_types oid[];
    pk_names text[];
    tg record;
    args text[];
    b bytea;
    p int;
    opt jsonb;
    kind text;
    fn_name text := 'pgq._tgenc_' || i_relid;
    body text := '';
    br text;
    n_tg int := 0;
    new_rel boolean;
begin
    select n.nspname, c.relname into nsp, tbl
      from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = i_relid;
    if not found then
        raise exception 'pgq trigger: relation % not found', i_relid using errcode = 'PQ020';
    end if;
    select coalesce(array_agg(a.attname::text order by a.attnum), '{}'), coalesce(array_agg(a.atttypid order by a.attnum), '{}')
      into col_names, col_types
      from pg_attribute a where a.attrelid = i_relid and a.attnum > 0 and not a.attisdropped;
    -- primary key columns in index order (as the C triggers list them)
    select coalesce(array_agg(k.attname::text order by k.attnum), '{}') into pk_names
      from pg_index i join pg_attribute k on k.attrelid = i.indexrelid
     where i.indrelid = i_relid and i.indisprimary and k.attnum > 0 and not k.attisdropped;

    sig := concat_ws('|', quote_ident(nsp), quote_ident(tbl), array_to_string(col_names, ','), array_to_string(col_types, ','),
                     array_to_string(pk_names, ','),
                     (select string_agg(quote_ident(t.tgname) || ':' || t.tgfoid || ':' || t.tgtype || ':' || encode(t.tgargs, 'hex'), ','
                                        order by t.tgname)
                        from pg_trigger t where t.tgrelid = i_relid and t.tgfoid = any (fn_oids)));

    select s.signature into cur_sig from pgq._trigger_state s where s.relid = i_relid;
    if cur_sig = sig and to_regprocedure(fn_name || '(text,text,record,record)') is not null then
        return;
    end if;
    perform pg_advisory_xact_lock(hashtext('pgq._trigger_prepare'), i_relid::int4);
    select s.signature into cur_sig from pgq._trigger_state s where s.relid = i_relid;
    if cur_sig = sig and to_regprocedure(fn_name || '(text,text,record,record)') is not null then
        return;
    end if;

    for tg in
        select t.tgname::text as tgname, t.tgtype, t.tgnargs, t.tgargs, p.proname::text as kind
          from pg_trigger t join pg_proc p on p.oid = t.tgfoid
         where t.tgrelid = i_relid and t.tgfoid = any (fn_oids) and t.tgtype & 1 = 1   -- row triggers
         order by t.tgname
    loop
        args := '{}';
        b := tg.tgargs;
        for i in 1 .. tg.tgnargs loop
            p := position('\x00'::bytea in b);
            args := args || convert_from(substring(b from 1 for p - 1), getdatabaseencoding());
            b := substring(b from p + 1);
        end loop;
        opt := pgq._trigger_parse_args(args);
        br := pgq._trigger_gen_branch(tg.kind, nsp, tbl, col_names, col_types, pk_names, args, opt,
                                      (tg.tgtype & 2) = 2,
                                      case when args[1] is null then 'pgq.insert_event'
                                           else pgq._trigger_queue_insert(args[1]) end);
        body := body || format(E'    if $1 = %L then\n%s    end if;\n', tg.tgname, br);
        n_tg := n_tg + 1;
    end loop;
    -- One pgq trigger on the table (the usual case): no test of the trigger's name. A trigger
    -- created later changes the plan token, so this encoder is regenerated before it is asked.
    if n_tg = 1 then
        body := br;
    end if;

    execute format(E'create or replace function %s(text, text, record, record) returns text[]\n'
                   'language plpgsql as %L', fn_name,
                   E'-- generated by pgq._trigger_prepare for ' || quote_ident(nsp) || '.' || quote_ident(tbl) || E'; do not edit\n'
                   || E'declare\n    _pgq_n alias for $3;\n    _pgq_o alias for $4;\n    _pgq_r record;\n'
                   || E'    _pgq_t text; _pgq_d text; _pgq_e1 text; _pgq_e2 text; _pgq_e3 text; _pgq_e4 text;\n'
                   || E'    _pgq_ic int4; _pgq_w text; _pgq_wt oid; _pgq_id int8;\nbegin\n'
                   -- the plan token (pgq._trigger_plantoken), replanned when the table changes,
                   -- against the session's: one expression, so that one plan makes the token.
                   -- The regclass constant ties the plan to the table; behind a condition on a
                   -- parameter (never true: the trigger name) so that the planner keeps it and
                   -- no row pays for its output function (nor for a string built per row)
                   || format(E'    _pgq_w := nullif(case when $1 is null then %s::pg_catalog.regclass::pg_catalog.text else pgq._trigger_plantoken() end, pg_catalog.current_setting(%L, true));\n'
                             '    if _pgq_w is not null then return array[_pgq_w, null, null, null, null, null, ''T'', null]::text[]; end if;\n',
                             i_relid, 'pgq.tgt' || i_relid)
                   || body
                   || E'    return array[null, null, null, null, null, null, ''?'', null]::text[];\nend;\n');
    execute format('grant execute on function %s(text, text, record, record) to public', fn_name);

    new_rel := not exists (select 1 from pgq._trigger_state s where s.relid = i_relid);
    insert into pgq._trigger_state as s (relid, signature, fn_name) values (i_relid, sig, fn_name)
        on conflict (relid) do update set signature = excluded.signature, fn_name = excluded.fn_name;
    if new_rel then
        perform pgq._trigger_gen_dispatcher();
    end if;
    -- The encoder it replaced may have been the last to call a dropped queue's insert function.
    perform pgq._queue_insert_sweep();
end;
$$;
