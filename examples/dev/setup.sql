-- Demo schema for the local stack: orders with a PgQ trigger feeding queue demo_orders, and an
-- audit table the demo consumer writes to. Safe to run on every start.
create schema if not exists demo;

create table if not exists demo.orders (
    id          bigserial primary key,
    customer    text not null,
    amount      numeric(10, 2) not null,
    status      text not null default 'new',
    updated_at  timestamptz not null default now()
);

create table if not exists demo.order_audit (
    ev_id        bigint primary key,
    op           text not null,
    order_id     bigint,
    row_data     text,
    produced_at  timestamptz not null,
    consumed_at  timestamptz not null default clock_timestamp()
);

select pgq.create_queue('demo_orders');

-- logutriga: every row change becomes an event ('I:id' / 'U:id' / 'D:id', url-encoded row).
drop trigger if exists orders_to_queue on demo.orders;
create trigger orders_to_queue after insert or update or delete on demo.orders
    for each row execute procedure pgq.logutriga('demo_orders');

-- One unit of demo traffic: a new order, sometimes an update or a delete of an older one.
create or replace function demo.make_activity() returns void language plpgsql as $$
declare
    target bigint;
begin
    insert into demo.orders (customer, amount)
    values ('customer ' || (random() * 100)::int, round((random() * 500)::numeric, 2));
    if random() < 0.3 then
        select id into target from demo.orders order by random() limit 1;
        update demo.orders set status = 'paid', updated_at = now() where id = target;
    end if;
    if random() < 0.1 then
        select min(id) into target from demo.orders;
        delete from demo.orders where id = target;
    end if;
end;
$$;
