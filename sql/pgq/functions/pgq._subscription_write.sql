-- pgq._subscription_write() returns trigger
--
-- INSTEAD OF INSERT / UPDATE / DELETE on the view pgq.subscription (tables.sql says why it is a
-- view): a write through the view acts on pgq.subscription_key and pgq.subscription_state as a
-- write on the original table would. An update replaces the subscription's state row (delete
-- by its exact key, insert the new values); when that row was replaced meanwhile by another
-- transaction, the view row counts as not updated, as a row that no longer matches would.
-- pgq_coop and pgq_admin write this way; pgq's own functions write the tables directly.
create or replace function pgq._subscription_write()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    seq bigint;
begin
    if tg_op in ('UPDATE', 'DELETE') then
        select st.state_seq into seq
          from pgq.subscription_state st
         where st.sub_queue = old.sub_queue and st.sub_consumer = old.sub_consumer
         order by st.sub_queue desc, st.sub_consumer desc, st.state_seq desc
         limit 1;
        delete from pgq.subscription_state
         where sub_queue = old.sub_queue and sub_consumer = old.sub_consumer and state_seq = seq;
        if not found then
            return null;
        end if;
    end if;
    if tg_op = 'DELETE' then
        delete from pgq.subscription_key where sub_queue = old.sub_queue and sub_consumer = old.sub_consumer;
        return old;
    end if;
    if tg_op = 'INSERT' then
        new.sub_id := coalesce(new.sub_id, nextval('pgq.subscription_sub_id_seq'::regclass));
        insert into pgq.subscription_key (sub_id, sub_queue, sub_consumer)
        values (new.sub_id, new.sub_queue, new.sub_consumer);
    elsif (new.sub_id, new.sub_queue, new.sub_consumer) is distinct from (old.sub_id, old.sub_queue, old.sub_consumer) then
        update pgq.subscription_key
           set sub_id = new.sub_id, sub_queue = new.sub_queue, sub_consumer = new.sub_consumer
         where sub_queue = old.sub_queue and sub_consumer = old.sub_consumer;
    end if;
    new.sub_active := coalesce(new.sub_active, now());
    insert into pgq.subscription_state (sub_id, sub_queue, sub_consumer, sub_last_tick, sub_active, sub_batch, sub_next_tick)
    values (new.sub_id, new.sub_queue, new.sub_consumer, new.sub_last_tick, new.sub_active, new.sub_batch, new.sub_next_tick);
    return new;
end;
$$;

create or replace trigger subscription_write
    instead of insert or update or delete on pgq.subscription
    for each row execute function pgq._subscription_write();
