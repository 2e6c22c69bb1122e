-- PgQ tables. Every statement is idempotent (IF NOT EXISTS / guarded), so re-running the
-- installer over an existing schema keeps all data. Later schema changes are appended here as
-- guarded ALTERs, never by editing a CREATE that has shipped.
--
-- Layout, same names as PgQ 3.5:
--   pgq.queue          one row per queue: settings and rotation state
--   pgq.tick           snapshots (txid_snapshot) per queue; two consecutive ticks bound a batch
--   pgq.consumer       consumer names
--   pgq.subscription   consumer × queue: last finished tick, open batch (ours: a view over
--                      pgq.subscription_key + the append-only pgq.subscription_state, see the end)
--   pgq.retry_queue    events waiting to be retried for one subscription
--   pgq.event_template every queue's events with the columns of an event (a view, see the end)
--   pgq.event_<id>     events of queue <id>; rotates over children pgq.event_<id>_0 .. _<n-1>
--
-- Difference from the C extension (the names clients read stay those of the original): the
-- per-queue event tables are list partitions of pgq.event_all (by ev_queue, then by ev_table)
-- instead of inheritance children. A producer then inserts with one static, plan-cached
-- statement into pgq.event_all and PostgreSQL routes the row, instead of building dynamic SQL
-- per event.

create schema if not exists pgq;

-- Roles as in the original. Created only when the installing role may create roles.
do $roles$
declare
    may_create boolean;
begin
    select rolsuper or rolcreaterole into may_create from pg_catalog.pg_roles where rolname = current_user;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgq_reader')
       or not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgq_writer')
       or not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgq_admin')
    then
        if not may_create then
            raise notice 'role % may not create roles: skipping pgq_reader/pgq_writer/pgq_admin', current_user;
            return;
        end if;
        if not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgq_reader') then
            create role pgq_reader;
        end if;
        if not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgq_writer') then
            create role pgq_writer;
        end if;
        if not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgq_admin') then
            create role pgq_admin in role pgq_reader, pgq_writer;
        end if;
    end if;
end
$roles$;

create table if not exists pgq.consumer (
    co_id       serial,
    co_name     text        not null,
    constraint consumer_pkey primary key (co_id),
    constraint consumer_name_uq unique (co_name)
);

create table if not exists pgq.queue (
    queue_id                    serial,
    queue_name                  text        not null,
    queue_ntables               integer     not null default 3,
    queue_cur_table             integer     not null default 0,
    queue_rotation_period       interval    not null default '2 hours',
    queue_switch_step1          bigint      not null default txid_current(),
    queue_switch_step2          bigint               default txid_current(),
    queue_switch_time           timestamptz not null default now(),
    queue_external_ticker       boolean     not null default false,
    queue_disable_insert        boolean     not null default false,
    queue_ticker_paused         boolean     not null default false,
    queue_ticker_max_count      integer     not null default 500,
    queue_ticker_max_lag        interval    not null default '3 seconds',
    queue_ticker_idle_period    interval    not null default '1 minute',
    queue_per_tx_limit          integer,
    queue_data_pfx              text        not null,
    queue_event_seq             text        not null,
    queue_tick_seq              text        not null,
    queue_extra_maint           text[],
    constraint queue_pkey primary key (queue_id),
    constraint queue_name_uq unique (queue_name)
);

create table if not exists pgq.tick (
    tick_queue                  int4            not null,
    tick_id                     bigint          not null,
    tick_time                   timestamptz     not null default now(),
    tick_snapshot               txid_snapshot   not null default txid_current_snapshot(),
    tick_event_seq              bigint          not null,
    constraint tick_pkey primary key (tick_queue, tick_id),
    constraint tick_queue_fkey foreign key (tick_queue) references pgq.queue (queue_id)
);

create sequence if not exists pgq.batch_id_seq;

create table if not exists pgq.subscription (
    sub_id                      serial      not null,
    sub_queue                   int4        not null,
    sub_consumer                int4        not null,
    sub_last_tick               bigint,
    sub_active                  timestamptz not null default now(),
    sub_batch                   bigint,
    sub_next_tick               bigint,
    constraint subscription_pkey primary key (sub_queue, sub_consumer),
    constraint subscription_batch_idx unique (sub_batch),
    constraint sub_queue_fkey foreign key (sub_queue) references pgq.queue (queue_id),
    constraint sub_consumer_fkey foreign key (sub_consumer) references pgq.consumer (co_id)
);

create table if not exists pgq.event_template (
    ev_id               bigint          not null,
    ev_time             timestamptz     not null,
    ev_txid             bigint          not null default txid_current(),
    ev_owner            int4,
    ev_retry            int4,
    ev_type             text,
    ev_data             text,
    ev_extra1           text,
    ev_extra2           text,
    ev_extra3           text,
    ev_extra4           text
);

create table if not exists pgq.retry_queue (
    ev_retry_after      timestamptz     not null,
    ev_queue            int4            not null,
    ev_id               bigint          not null,
    ev_time             timestamptz     not null,
    ev_txid             bigint,
    ev_owner            int4            not null,
    ev_retry            int4,
    ev_type             text,
    ev_data             text,
    ev_extra1           text,
    ev_extra2           text,
    ev_extra3           text,
    ev_extra4           text,
    constraint rq_pkey primary key (ev_owner, ev_id),
    constraint rq_queue_id_fkey foreign key (ev_queue) references pgq.queue (queue_id)
);
create index if not exists rq_retry_idx on pgq.retry_queue (ev_retry_after);

-- Root of all event tables (see the note at the top). ev_queue / ev_table are the routing keys.
create table if not exists pgq.event_all (
    ev_id               bigint          not null,
    ev_time             timestamptz     not null,
    ev_txid             bigint          not null default txid_current(),
    ev_owner            int4,
    ev_retry            int4,
    ev_type             text,
    ev_data             text,
    ev_extra1           text,
    ev_extra2           text,
    ev_extra3           text,
    ev_extra4           text,
    ev_queue            int4            not null,
    ev_table            int2            not null
) partition by list (ev_queue);
create index if not exists event_all_txid_idx on pgq.event_all (ev_txid);

-- pgq.event_template shows every queue's events, as inheritance makes the original's parent
-- table do: tools of the original read events straight from it (and from pgq.event_<id>,
-- which as our list partition of pgq.event_all already holds that queue's events). A view on
-- pgq.event_all with the template's columns; producers never touch it, so their insert stays
-- the same. Rows are deleted through it as from the original's parent (a simple view is
-- updatable); inserts need the routing columns, so they go to pgq.insert_event as before.
-- The first version was an empty table that nothing wrote to: replaced once, by this guard.
do $event_template$
begin
    if exists (select 1 from pg_catalog.pg_class c
                where c.oid = 'pgq.event_template'::regclass and c.relkind = 'r') then
        drop table pgq.event_template;
    end if;
end
$event_template$;
create or replace view pgq.event_template as
    select ev_id, ev_time, ev_txid, ev_owner, ev_retry, ev_type, ev_data,
           ev_extra1, ev_extra2, ev_extra3, ev_extra4
      from pgq.event_all;

-- queue_ticker_batching (ours): true once ticker_max_lag or ticker_max_count has been set through
-- pgq.set_queue_config. Our ticker (pgq.ticker_poll) ticks a queue without it as soon as events
-- commit and a consumer waits; with it, only as those settings say, as PgQ does. pgq.ticker()
-- ignores it. Queues from before this column: true where the values differ from the defaults.
do $batching$
begin
    if not exists (select 1 from pg_catalog.pg_attribute
                    where attrelid = 'pgq.queue'::regclass and attname = 'queue_ticker_batching'
                      and not attisdropped) then
        alter table pgq.queue add column queue_ticker_batching boolean not null default false;
        update pgq.queue set queue_ticker_batching = true
         where queue_ticker_max_lag <> interval '3 seconds' or queue_ticker_max_count <> 500;
    end if;
end
$batching$;

-- pgq.subscription becomes a view over two tables (ours; its columns are the original's), so
-- that the per-batch state is never updated in place. Why: next_batch and finish_batch used to
-- update the subscription row twice per batch; while any transaction holds an old snapshot
-- (a long report, an idle-in-transaction client) none of those versions can be pruned, and
-- every lookup and every unique-index check walked all of them: the batch cycle slowed down
-- round after round (bench/README.md, "xmin").
--   pgq.subscription_key    sub_id, sub_queue, sub_consumer: written at (un)registration only
--   pgq.subscription_state  the rest (and sub_id again), append-only: a change inserts a new row (a larger
--                           state_seq) and deletes the one it replaces, by its exact key
-- Readers take a subscription's row with the largest state_seq through a descending index
-- scan that stops at the first visible row, so the dead versions behind it are never visited.
-- Exactly one state row per subscription is visible in any snapshot (each writer deletes the
-- row it replaces in the same transaction; two writers of one subscription conflict on that
-- delete). Writes through the view (pgq_coop, pgq_admin) go through INSTEAD OF triggers.
-- Converting an installed schema keeps every consumer's position and open batch.
create sequence if not exists pgq.subscription_state_seq;
do $subscription_view$
begin
    if exists (select 1 from pg_catalog.pg_class c
                where c.oid = 'pgq.subscription'::regclass and c.relkind = 'r') then
        alter table pgq.subscription rename to subscription_key;
        create table pgq.subscription_state (
            sub_id          int4        not null,
            sub_queue       int4        not null,
            sub_consumer    int4        not null,
            state_seq       bigint      not null default nextval('pgq.subscription_state_seq'),
            sub_last_tick   bigint,
            sub_active      timestamptz not null default now(),
            sub_batch       bigint,
            sub_next_tick   bigint,
            constraint subscription_state_pkey primary key (sub_queue, sub_consumer, state_seq)
        );
        -- Batch ids come from pgq.batch_id_seq, so they stay unique without a unique index
        -- (whose check would visit every dead version of the key).
        create index subscription_state_batch_idx on pgq.subscription_state (sub_batch)
         where sub_batch is not null;
        insert into pgq.subscription_state
               (sub_id, sub_queue, sub_consumer, sub_last_tick, sub_active, sub_batch, sub_next_tick)
        select sub_id, sub_queue, sub_consumer, sub_last_tick, sub_active, sub_batch, sub_next_tick
          from pgq.subscription_key;
        alter table pgq.subscription_key
              drop constraint subscription_batch_idx,
              drop column sub_last_tick, drop column sub_active,
              drop column sub_batch, drop column sub_next_tick;
    end if;
end
$subscription_view$;
create or replace view pgq.subscription as
    select k.sub_id, k.sub_queue, k.sub_consumer,
           s.sub_last_tick, s.sub_active, s.sub_batch, s.sub_next_tick
      from pgq.subscription_key k
     cross join lateral (
           select st.sub_last_tick, st.sub_active, st.sub_batch, st.sub_next_tick
             from pgq.subscription_state st
            where st.sub_queue = k.sub_queue and st.sub_consumer = k.sub_consumer
            order by st.sub_queue desc, st.sub_consumer desc, st.state_seq desc
            limit 1) s;
-- Subscriptions with an open batch, found by batch id through the partial index (the functions
-- that take a batch id read this instead of the view, which would visit every subscription).
-- One table only: joined to pgq.subscription_key, the planner may reach the state rows through
-- their primary key instead, and that walks every dead version of the subscription.
create or replace view pgq._open_batch as
    select s.sub_id, s.sub_queue, s.sub_consumer,
           s.sub_last_tick, s.sub_active, s.sub_batch, s.sub_next_tick
      from pgq.subscription_state s
     where s.sub_batch is not null;
