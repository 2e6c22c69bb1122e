-- pgq._trigger_gen_changed(i_col text, i_type oid, i_eq_ok boolean) returns text
--
-- Code generation: a boolean expression "column i_col differs between _pgq_n and _pgq_o".
-- Like the C triggers: the type's equality when it has a default btree opclass (not arrays),
-- otherwise the output texts are compared. Two NULLs are equal.
create or replace function pgq._trigger_gen_changed(i_col text, i_type oid, i_eq_ok boolean)
returns text
language sql
stable
as $$
    select case when i_eq_ok
                then pg_catalog.format('(_pgq_n.%1$s is distinct from _pgq_o.%1$s)', pgq._trigger_field(i_col))
                else pg_catalog.format('(%s is distinct from %s)',
                                       pgq._trigger_outexpr('_pgq_n.' || pgq._trigger_field(i_col), i_type),
                                       pgq._trigger_outexpr('_pgq_o.' || pgq._trigger_field(i_col), i_type))
           end;
$$;
