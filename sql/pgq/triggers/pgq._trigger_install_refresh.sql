-- Installer step (not a function): after (re)installing the trigger code, mark every generated
-- encoder stale so the next trigger call regenerates it with the new generator, and regenerate
-- the dispatcher for the tables already known.
update pgq._trigger_state set signature = '' where signature <> '';
do $$ begin perform pgq._trigger_gen_dispatcher(); end $$;
