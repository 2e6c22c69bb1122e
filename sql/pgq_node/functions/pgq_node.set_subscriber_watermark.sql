-- pgq_node.set_subscriber_watermark(i_queue_name text, i_node_name text, i_watermark bigint,
--     out ret_code int4, out ret_note text)
--
-- Called on a provider by a subscriber's worker from time to time: moves the subscriber's
-- '.<node>.watermark' consumer forward to the lowest tick the subscriber (and the nodes below
-- it) still needs, which lets the provider's local watermark advance.
-- Returns 200 '.<node>.watermark set to <tick>'; 100 'watermark already set' when unchanged;
-- 405 'watermark must not be moved backwards'; 404 'node <node> not subscribed to queue '
-- when the watermark consumer does not exist (nothing changes on non-200).
-- Errors: a tick not in the queue is refused by pgq.register_consumer_at.
-- Tables: pgq.subscription (via pgq.register_consumer_at).
create or replace function pgq_node.set_subscriber_watermark(
    in i_queue_name text,
    in i_node_name text,
    in i_watermark bigint,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
security definer
set search_path = pg_catalog, pgq_node, pgq
as $$
declare
    wm_name text := '.' || i_node_name || '.watermark';
    cur     bigint;
begin
    select ci.last_tick into cur
      from pgq.get_consumer_info(i_queue_name, wm_name) ci;
    if not found then
        ret_code := 404;
        ret_note := 'node ' || i_node_name || ' not subscribed to queue ';
        return;
    end if;
    if i_watermark < cur then
        ret_code := 405;
        ret_note := 'watermark must not be moved backwards';
        return;
    elsif i_watermark = cur then
        ret_code := 100;
        ret_note := 'watermark already set';
        return;
    end if;

    perform pgq.register_consumer_at(i_queue_name, wm_name, i_watermark);
    ret_code := 200;
    ret_note := wm_name || ' set to ' || i_watermark::text;
end;
$$;
