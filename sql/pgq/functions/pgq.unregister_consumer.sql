-- pgq.unregister_consumer(x_queue_name text, x_consumer_name text) returns integer
--
-- Removes a consumer's subscription to a queue with its pending retry events; the consumer
-- name is forgotten when it has no other subscription. A cooperative subconsumer (pgq_coop:
-- rows sharing one sub_id) removes only its own row.
-- Returns the number of subscription rows the consumer had (0 when not registered).
create or replace function pgq.unregister_consumer(x_queue_name text, x_consumer_name text)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pgq
as $$
declare
    sid      integer;
    qid      integer;
    cid      integer;
    is_sub   boolean;
    nrows    integer;
begin
    select s.sub_id, c.co_id, s.sub_queue,
           (s.sub_last_tick is null and s.sub_next_tick is null)
           or (s.sub_last_tick is not null and s.sub_next_tick is not null)
      into sid, cid, qid, is_sub
      from pgq.subscription s
      join pgq.consumer c on c.co_id = s.sub_consumer
      join pgq.queue q on q.queue_id = s.sub_queue
     where q.queue_name = x_queue_name and c.co_name = x_consumer_name
       for update of c;
    if not found then
        return 0;
    end if;
    -- The view's rows are not locked: the key rows are (pgq.subscription is a view, tables.sql).
    perform 1 from pgq.subscription_key where sub_id = sid for update;
    select count(*) into nrows from pgq.subscription_key where sub_id = sid;
    if nrows > 1 and is_sub then
        delete from pgq.subscription_state where sub_queue = qid and sub_consumer = cid;
        delete from pgq.subscription_key where sub_id = sid and sub_consumer = cid;
        return 1;
    end if;
    delete from pgq.retry_queue where ev_owner = sid;
    delete from pgq.subscription_state st
     using pgq.subscription_key k
     where k.sub_id = sid and st.sub_queue = k.sub_queue and st.sub_consumer = k.sub_consumer;
    delete from pgq.subscription_key where sub_id = sid;
    if not exists (select 1 from pgq.subscription_key where sub_consumer = cid) then
        delete from pgq.consumer where co_id = cid;
    end if;
    return nrows;
end;
$$;
