-- pgq_node.upgrade_schema() returns int4
--
-- Brings the pgq_node tables of an older install up to date (adds node_info.node_attrs when
-- missing). Returns how many changes it made; 0 on a current schema.
-- Tables: pgq_node.node_info (ALTER). Errors: none expected.
create or replace function pgq_node.upgrade_schema()
returns int4
language plpgsql
as $$
declare
    changes int4 := 0;
begin
    if not exists (select 1 from pg_catalog.pg_attribute a
                    where a.attrelid = 'pgq_node.node_info'::regclass
                      and a.attname = 'node_attrs' and not a.attisdropped) then
        alter table pgq_node.node_info add column node_attrs text;
        changes := changes + 1;
    end if;
    return changes;
end;
$$;
