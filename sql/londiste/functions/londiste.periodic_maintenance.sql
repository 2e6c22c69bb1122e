-- londiste.periodic_maintenance() returns integer
--
-- Housekeeping for pgqd's maintenance round: forgets EXECUTE scripts applied more than three
-- months ago (londiste.applied_execute), so the table does not grow forever. Returns 0.
-- Tables: londiste.applied_execute (delete).
create or replace function londiste.periodic_maintenance()
returns integer
language plpgsql
as $$
begin
    delete from londiste.applied_execute a
     where a.execute_time < now() - interval '3 months';
    return 0;
end;
$$;
