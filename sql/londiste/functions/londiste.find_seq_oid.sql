-- londiste.find_seq_oid(seq text) returns oid
--
-- The oid of the sequence seq (londiste.find_rel_oid with relkind 'S'), NULL if none.
-- Strict. Tables: pg_catalog.pg_class (read).
create or replace function londiste.find_seq_oid(seq text)
returns oid
language sql
strict
stable
as $$
    select londiste.find_rel_oid(seq, 'S');
$$;
