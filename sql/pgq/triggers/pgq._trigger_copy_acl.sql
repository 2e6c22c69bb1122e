-- pgq._trigger_copy_acl(i_from regprocedure, i_to regprocedure) returns void
--
-- Gives function i_to the EXECUTE privileges of i_from (every grantee but the owner, with
-- their grant options), when the two differ: generated functions that stand in for
-- pgq.insert_event (the queues' insert functions) or pgq.logutriga (the tables' own triggers)
-- may be called by exactly the users who may call the original. Owner-only (a step of code
-- generation, called by security-definer generators).
create or replace function pgq._trigger_copy_acl(i_from regprocedure, i_to regprocedure)
returns void
language plpgsql
as $$
declare
    g record;
begin
    if (select p.proacl from pg_catalog.pg_proc p where p.oid = i_to)
       is not distinct from (select p.proacl from pg_catalog.pg_proc p where p.oid = i_from) then
        return;
    end if;
    execute pg_catalog.format('revoke all on function %s from public', i_to);
    for g in select a.grantee, a.is_grantable
               from pg_catalog.pg_proc p, pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
              where p.oid = i_from and a.privilege_type = 'EXECUTE' and a.grantee <> p.proowner loop
        execute pg_catalog.format('grant execute on function %s to %s%s', i_to,
                                  case when g.grantee = 0 then 'public' else g.grantee::regrole::text end,
                                  case when g.is_grantable then ' with grant option' else '' end);
    end loop;
end;
$$;
revoke all on function pgq._trigger_copy_acl(regprocedure, regprocedure) from public;
