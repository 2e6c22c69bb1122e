-- Installer step (not a function): after (re)installing the trigger code, regenerate every
-- encoder of a table that still exists with the new generator, at once: an encoder of an earlier
-- version may lack the plan-token check the triggers now rely on, so it must not be called
-- again. Then regenerate the dispatcher (which also forgets dropped tables).
update pgq._trigger_state set signature = '' where signature <> '';
do $$
declare
    r oid;
begin
    for r in select s.relid from pgq._trigger_state s where exists (select 1 from pg_class c where c.oid = s.relid)
             union
             -- tables' own logutrigas that never fired (still pgq.logutriga's body of the time)
             select c.oid from pg_proc p join pg_class c on c.oid = substr(p.proname, 8)::oid
              where p.pronamespace = 'pgq'::regnamespace and p.proname ~ '^_tgrow_[0-9]+$' loop
        perform pgq._trigger_prepare(r);
    end loop;
    perform pgq._trigger_gen_dispatcher();
end
$$;

-- Replaced by pgq._urlenc_call (which also encodes characters outside ASCII); the encoders
-- regenerated above no longer call it.
drop function if exists pgq._urlenc_ascii_call(text);
