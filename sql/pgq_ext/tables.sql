-- pgq_ext tables. Idempotent: re-running keeps every row. Lives in the database a consumer
-- writes into (the target), which need not have the pgq schema at all.
--
-- Exactly-once into another database works by storing "how far we got" in the target, in the
-- same transaction as the batch's effects. The queue database is told (finish_batch) only
-- after that commit; if the consumer dies in between, the batch comes again and the target
-- already knows it is done.
--
--   pgq_ext.completed_batch  last applied batch id per (consumer, subconsumer)   (remote consumer)
--   pgq_ext.completed_tick   last applied tick id per (consumer, subconsumer)    (serial consumer)
--   pgq_ext.partial_batch    the batch whose events are being tracked one by one
--   pgq_ext.completed_event  events of that batch already applied
--
-- Columns and keys are those of pgq_ext 3 after its upgrade_schema() (subconsumer_id, default '').

create schema if not exists pgq_ext;
grant usage on schema pgq_ext to public;

create table if not exists pgq_ext.completed_tick (
    consumer_id     text not null,
    subconsumer_id  text not null default '',
    last_tick_id    bigint not null,
    constraint completed_tick_pkey primary key (consumer_id, subconsumer_id)
);

create table if not exists pgq_ext.completed_batch (
    consumer_id     text not null,
    subconsumer_id  text not null default '',
    last_batch_id   bigint not null,
    constraint completed_batch_pkey primary key (consumer_id, subconsumer_id)
);

create table if not exists pgq_ext.completed_event (
    consumer_id     text not null,
    subconsumer_id  text not null default '',
    batch_id        bigint not null,
    event_id        bigint not null,
    constraint completed_event_pkey primary key (consumer_id, subconsumer_id, batch_id, event_id)
);

create table if not exists pgq_ext.partial_batch (
    consumer_id     text not null,
    subconsumer_id  text not null default '',
    cur_batch_id    bigint not null,
    constraint partial_batch_pkey primary key (consumer_id, subconsumer_id)
);
