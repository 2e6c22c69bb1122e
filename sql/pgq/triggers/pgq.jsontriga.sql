-- pgq.jsontriga() returns trigger
--
-- PgQ event trigger, event-for-event identical to the C pgq.jsontriga of PgQ 3.5.
--   create trigger t after insert or update or delete on tbl
--       for each row execute procedure pgq.jsontriga('queue' [, option ...]);
--   create trigger t_r after truncate on tbl
--       for each statement execute procedure pgq.jsontriga('queue');
-- Arguments: queue name, then any of SKIP (BEFORE trigger: log the change, do not apply it),
-- ignore=col[,col], pkey=col[,col], backup, deny, when=<expr>, ev_type= ev_data= ev_extra1=
-- .. ev_extra4=<expr> (expressions over the row's columns). Columns named _pgq_ev_type,
-- _pgq_ev_data, _pgq_ev_extra1..4 override those fields and are not part of the row data.
-- Event:
--   ev_type   {"op":"INSERT"|"UPDATE"|"DELETE"|"TRUNCATE","table":[schema,table],"pkey":[cols]}
--   ev_data   the row as a JSON object (NEW for INSERT/UPDATE, OLD for DELETE, {} for TRUNCATE)
--   ev_extra2 with 'backup', on UPDATE: the old row as JSON
--   ev_extra1 schema.table
-- Inserts with pgq.insert_event(queue, ...), so the user whose DML fires the trigger needs
-- EXECUTE on it (pgq_writer). Does nothing when session_replication_role = local.
-- Errors (SQLSTATE PQ020, nothing inserted): see pgq._trigger_prepare and pgq._trigger_truncate;
-- UPDATE/DELETE on a table without primary key (and no pkey=), primary key change.
-- Per row: one call of the table's generated encoder (pgq._trigger_prepare makes it), which
-- checks its plan token against the session's (pgq._trigger_plantoken) and inserts the event;
-- pgq._trigger_reencode's catalog queries only when the token changed (new session, DDL on the
-- table) or the encoder does not know the trigger. The hot path is five PL/pgSQL statements:
-- each costs a little in every row and its expression set-up once in every transaction.
create or replace function pgq.jsontriga()
returns trigger
language plpgsql
as $$
declare
    ev text[];
    -- Assignment, not PERFORM: PL/pgSQL evaluates it as a simple expression, without starting
    -- an executor for a SELECT per row.
    ev_id bigint;
begin
    -- one test for the two rare cases, so that a row pays for a single expression here
    if TG_LEVEL <> 'ROW' or current_setting('session_replication_role') = 'local' then
        if TG_LEVEL = 'ROW' then
            if TG_WHEN = 'AFTER' then return null; elsif TG_OP = 'DELETE' then return OLD; end if;
            return NEW;
        elsif TG_OP <> 'TRUNCATE' then
            raise exception 'pgq Ins/Upd/Del trigger must be fired FOR EACH ROW' using errcode = 'PQ020';
        elsif current_setting('session_replication_role') <> 'local' then
            ev := pgq._trigger_truncate('jsontriga', TG_RELID, TG_ARGV, TG_WHEN = 'BEFORE');
            ev_id := pgq.insert_event(TG_ARGV[0], ev[1], ev[2], ev[3], null, null, null);
        end if;
        return null;
    end if;
    -- the encoder inserts the event and returns NULL (an AFTER trigger: nothing left to do), or
    -- for a BEFORE trigger ev[7] 'd', or 'y' when the row gives none
    ev := pgq._trigger_encode(TG_RELID, TG_NAME, TG_OP, NEW, OLD);
    if ev is null then
        return null;
    end if;
    if ev[7] is distinct from 'd' and ev[7] is distinct from 'y' then
        ev := pgq._trigger_reencode(TG_RELID, TG_NAME, TG_OP, NEW, OLD);
        if ev is null then
            return null;
        end if;
    end if;
    if TG_WHEN = 'AFTER' or ev[8] is not null then
        return null;
    elsif TG_OP = 'DELETE' then
        return OLD;
    end if;
    return NEW;
end;
$$;
