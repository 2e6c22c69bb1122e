-- londiste.execute_start(i_queue_name text, i_file_name text, i_sql text,
--     i_expect_root boolean [, i_attrs text], out ret_code int4, out ret_note text)
--
-- Starts applying an EXECUTE script (DDL) on this node, in the transaction that then runs it:
-- records it in londiste.applied_execute under its unique name i_file_name, with the script
-- (informative) and its urlencoded attributes (sent on with the event, in ev_extra2, by
-- londiste.execute_finish), so it runs once per node. The setup tool passes
-- i_expect_root = true on the root; the replay false on the other nodes.
-- Returns 200 'Executing: <file>'; 201 'EXECUTE: "<file>" already applied, skipping'; 401
-- 'Node is not root node: <queue>' (i_expect_root off the root). The four-argument form passes
-- NULL attributes.
-- Errors: an unknown queue raises PN001 (pgq_node.is_root_node).
-- Locks: a parallel start of the same file waits for the first to commit (primary key).
-- Tables: londiste.applied_execute (insert).
create or replace function londiste.execute_start(
    in i_queue_name text,
    in i_file_name text,
    in i_sql text,
    in i_expect_root boolean,
    in i_attrs text,
    out ret_code int4,
    out ret_note text)
returns record
language plpgsql
as $$
declare
    is_root boolean := pgq_node.is_root_node(i_queue_name);
begin
    if i_expect_root and not is_root then
        ret_code := 401;
        ret_note := 'Node is not root node: ' || i_queue_name;
        return;
    end if;
    insert into londiste.applied_execute (queue_name, execute_file, execute_sql, execute_attrs)
    values (i_queue_name, i_file_name, i_sql, i_attrs)
    on conflict do nothing;
    if not found then
        ret_code := 201;
        ret_note := 'EXECUTE: "' || i_file_name || '" already applied, skipping';
        return;
    end if;
    ret_code := 200;
    ret_note := 'Executing: ' || i_file_name;
end;
$$;

create or replace function londiste.execute_start(
    in i_queue_name text,
    in i_file_name text,
    in i_sql text,
    in i_expect_root boolean,
    out ret_code int4,
    out ret_note text)
returns record
language sql
as $$
    select f.ret_code, f.ret_note
      from londiste.execute_start(i_queue_name, i_file_name, i_sql, i_expect_root, null) f;
$$;
