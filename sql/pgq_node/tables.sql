-- pgq_node tables: the cascade's map and each node's local state. Same names and columns as
-- pgq_node 3.5. Every statement is idempotent, so re-running the installer keeps the data;
-- later changes are appended as guarded ALTERs.
--
--   pgq_node.node_location    every member of a cascaded queue: name, connect string, dead flag
--   pgq_node.node_info        this database's node for a queue: type, name, worker, combined queue
--   pgq_node.local_state      cascaded consumers on this node: provider, last tick, flags
--   pgq_node.subscriber_info  nodes that read from this node, with their worker and watermark
--
-- Events the cascade sends through the queue itself (ev_type, then fields):
--   pgq.location-info         data = node name, extra1 = queue, extra2 = location, extra3 = dead
--   pgq.unregister-location   data = node name, extra1 = queue
--   pgq.global-watermark      data = tick id, extra1 = queue
--   pgq.tick-id               data = tick id, extra1 = queue (merge-leaf into a combined queue)

create schema if not exists pgq_node;

create table if not exists pgq_node.node_location (
    queue_name      text    not null,
    node_name       text    not null,
    node_location   text    not null,
    dead            boolean not null default false,
    constraint node_location_pkey primary key (queue_name, node_name)
);

create table if not exists pgq_node.node_info (
    queue_name      text not null,
    node_type       text not null,
    node_name       text not null,
    worker_name     text,
    combined_queue  text,
    node_attrs      text,
    constraint node_info_pkey primary key (queue_name),
    constraint node_info_queue_name_node_name_fkey foreign key (queue_name, node_name)
        references pgq_node.node_location (queue_name, node_name),
    constraint node_info_node_type_check check (node_type in ('root', 'branch', 'leaf')),
    -- every node has a worker; only a leaf may feed a combined queue (merge-leaf); an
    -- unknown type fails here too (PostgreSQL checks constraints in name order)
    constraint node_info_check check (
        worker_name is not null
        and (node_type = 'leaf' or (node_type in ('root', 'branch') and combined_queue is null)))
);

create table if not exists pgq_node.local_state (
    queue_name      text    not null,
    consumer_name   text    not null,
    provider_node   text    not null,
    last_tick_id    bigint  not null,
    cur_error       text,
    paused          boolean not null default false,
    uptodate        boolean not null default false,
    constraint local_state_pkey primary key (queue_name, consumer_name),
    constraint local_state_queue_name_fkey foreign key (queue_name)
        references pgq_node.node_info (queue_name),
    constraint local_state_queue_name_provider_node_fkey foreign key (queue_name, provider_node)
        references pgq_node.node_location (queue_name, node_name)
);

create table if not exists pgq_node.subscriber_info (
    queue_name          text not null,
    subscriber_node     text not null,
    worker_name         text not null,
    watermark_name      text not null,
    constraint subscriber_info_pkey primary key (queue_name, subscriber_node),
    constraint subscriber_info_queue_name_fkey foreign key (queue_name)
        references pgq_node.node_info (queue_name),
    constraint subscriber_info_queue_name_subscriber_node_fkey foreign key (queue_name, subscriber_node)
        references pgq_node.node_location (queue_name, node_name),
    constraint subscriber_info_worker_name_fkey foreign key (worker_name)
        references pgq.consumer (co_name),
    constraint subscriber_info_watermark_name_fkey foreign key (watermark_name)
        references pgq.consumer (co_name)
);

-- Schemas from before node_attrs existed (pgq_node < 3.1) get the column here too.
alter table pgq_node.node_info add column if not exists node_attrs text;
