-- pgq.maint_operations(out func_name text, out func_arg text) returns setof record
--
-- The maintenance steps due now, in order, for the ticker daemon to run one by one, each in
-- its own transaction: pgq.maint_rotate_tables_step1(queue) per queue due for rotation, then
-- pgq.maint_rotate_tables_step2() when any rotation is pending, each queue's
-- queue_extra_maint functions (with the queue name as argument), 'vacuum' of the tables from
-- pgq.maint_tables_to_vacuum() (run outside a transaction), then pgq_node.maint_watermark(queue)
-- for root nodes, londiste.root_check_seqs(queue) and londiste.periodic_maintenance() when those
-- modules are installed. func_arg NULL means call without argument.
create or replace function pgq.maint_operations(out func_name text, out func_arg text)
returns setof record
language plpgsql
as $$
declare
    nrot integer := 0;
    ops  text[];
    op   text;
begin
    func_name := 'pgq.maint_rotate_tables_step1';
    for func_arg in
        select queue_name from pgq.queue
         where queue_rotation_period is not null
           and queue_switch_step2 is not null
           and queue_switch_time + queue_rotation_period < current_timestamp
         order by 1
    loop
        nrot := nrot + 1;
        return next;
    end loop;
    if nrot = 0 then
        select count(*) into nrot from pgq.queue
         where queue_rotation_period is not null and queue_switch_step2 is null;
    end if;
    if nrot > 0 then
        func_name := 'pgq.maint_rotate_tables_step2';
        func_arg := null;
        return next;
    end if;

    for func_arg, ops in
        select queue_name, queue_extra_maint from pgq.queue where queue_extra_maint is not null order by 1
    loop
        foreach op in array ops loop
            func_name := op;
            return next;
        end loop;
    end loop;

    func_name := 'vacuum';
    for func_arg in select * from pgq.maint_tables_to_vacuum() loop
        return next;
    end loop;

    if exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = 'pgq_node' and p.proname = 'maint_watermark') then
        func_name := 'pgq_node.maint_watermark';
        for func_arg in execute 'select queue_name from pgq_node.node_info where node_type = ''root'' order by 1' loop
            return next;
        end loop;
    end if;
    if exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = 'londiste' and p.proname = 'root_check_seqs') then
        func_name := 'londiste.root_check_seqs';
        for func_arg in execute
            'select distinct s.queue_name from londiste.seq_info s join pgq_node.node_info n '
            || 'on n.queue_name = s.queue_name where s.local and n.node_type = ''root'' order by 1'
        loop
            return next;
        end loop;
    end if;
    if exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = 'londiste' and p.proname = 'periodic_maintenance') then
        func_name := 'londiste.periodic_maintenance';
        func_arg := null;
        return next;
    end if;
end;
$$;
