-- pgq._trigger_truncate(i_kind text, i_relid oid, i_args text[], i_before boolean) returns text[]
--
-- The event of a FOR EACH STATEMENT TRUNCATE trigger: array[ev_type, ev_data, ev_extra1, skip_row].
--   logutriga, sqltriga: ev_type 'R', ev_data ''
--   jsontriga: ev_type {"op":"TRUNCATE","table":[schema,table],"pkey":[...]}, ev_data '{}'
--   ev_extra1: schema.table (unquoted)
-- Errors (PQ020): no queue argument, unknown argument, ignore=, pkey=, backup or an expression
-- argument (they make no sense for TRUNCATE), SKIP on an AFTER trigger, deny.
create or replace function pgq._trigger_truncate(i_kind text, i_relid oid, i_args text[], i_before boolean)
returns text[]
language plpgsql
stable
as $$
declare
    args text[] := array(select pg_catalog.unnest(i_args));   -- TG_ARGV starts at 0
    opt jsonb := pgq._trigger_parse_args(args);
    nsp text;
    tbl text;
    pk text;
begin
    if coalesce(array_length(args, 1), 0) < 1 then
        raise exception 'pgq trigger must have destination queue as argument' using errcode = 'PQ020';
    end if;
    if opt->>'bad' is not null then
        raise exception 'bad param to pgq trigger' using errcode = 'PQ020', detail = 'argument: ' || (opt->>'bad');
    end if;
    if opt->'expr' <> '{}' then
        raise exception 'Custom expressions do not make sense for truncater trigger' using errcode = 'PQ020';
    end if;
    if opt->>'ignore' is not null then
        raise exception 'Column ignore does not make sense for truncate trigger' using errcode = 'PQ020';
    end if;
    if opt->>'pkey' is not null then
        raise exception 'Custom pkey_list does not make sense for truncate trigger' using errcode = 'PQ020';
    end if;
    if (opt->>'backup')::boolean then
        raise exception 'Backup does not make sense for truncate trigger' using errcode = 'PQ020';
    end if;
    select n.nspname, c.relname into nsp, tbl
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace where c.oid = i_relid;
    if (opt->>'skip')::boolean and not i_before then
        raise exception 'SKIP does not work in AFTER trigger.' using errcode = 'PQ020';
    end if;
    if (opt->>'deny')::boolean then
        raise exception 'Table ''%'' to queue ''%'': change not allowed (TRUNCATE)', nsp || '.' || tbl, args[1]
            using errcode = 'PQ020';
    end if;
    if i_kind = 'jsontriga' then
        select string_agg(pg_catalog.to_json(k.attname::text)::text, ',' order by k.attnum) into pk
          from pg_catalog.pg_index i join pg_catalog.pg_attribute k on k.attrelid = i.indexrelid
         where i.indrelid = i_relid and i.indisprimary and k.attnum > 0 and not k.attisdropped;
        return array['{"op":"TRUNCATE","table":[' || pg_catalog.to_json(nsp)::text || ',' || pg_catalog.to_json(tbl)::text
                     || '],"pkey":[' || coalesce(pk, '') || ']}', '{}', nsp || '.' || tbl,
                     case when (opt->>'skip')::boolean then 'y' end];
    end if;
    return array['R', '', nsp || '.' || tbl, case when (opt->>'skip')::boolean then 'y' end];
end;
$$;
