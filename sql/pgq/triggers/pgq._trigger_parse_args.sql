-- pgq._trigger_parse_args(i_args text[]) returns jsonb
--
-- Parses the optional arguments of pgq.logutriga/sqltriga/jsontriga (all but the first, the
-- queue name). Returns {"skip", "backup", "deny": bool, "ignore", "pkey": text or null,
-- "expr": {"ev_type"|"ev_data"|"ev_extra1".."ev_extra4"|"when": text}, "bad": the first
-- unknown argument or null}. Arguments as in PgQ 3.5:
--   SKIP, backup, deny, ignore=col[,col], pkey=col[,col], ev_type= ev_data= ev_extra1=
--   ev_extra2= ev_extra3= ev_extra4= when= (SQL expressions over the row's columns).
-- Never raises: the caller decides how to report "bad".
create or replace function pgq._trigger_parse_args(i_args text[])
returns jsonb
language plpgsql
immutable
as $$
declare
    res jsonb := '{"skip": false, "backup": false, "deny": false, "ignore": null, "pkey": null, "expr": {}, "bad": null}';
    arg text;
    fld text;
begin
    foreach arg in array coalesce(i_args[2:], '{}') loop
        if arg = 'SKIP' then
            res := res || '{"skip": true}';
        elsif arg = 'backup' then
            res := res || '{"backup": true}';
        elsif arg = 'deny' then
            res := res || '{"deny": true}';
        elsif arg like 'ignore=%' then
            res := res || pg_catalog.jsonb_build_object('ignore', substr(arg, 8));
        elsif arg like 'pkey=%' then
            res := res || pg_catalog.jsonb_build_object('pkey', substr(arg, 6));
        elsif arg ~ '^(ev_type|ev_data|ev_extra[1-4]|when)=' then
            fld := split_part(arg, '=', 1);
            res := pg_catalog.jsonb_set(res, array['expr', fld], pg_catalog.to_jsonb(substr(arg, length(fld) + 2)));
        elsif res->>'bad' is null then
            res := res || pg_catalog.jsonb_build_object('bad', arg);
        end if;
    end loop;
    return res;
end;
$$;
