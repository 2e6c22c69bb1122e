-- pgq._trigger_reencode(i_relid oid, i_tg text, i_op text, i_new anyelement, i_old anyelement) returns text[]
--
-- The triggers' slow path, when the encoder did not encode the row: its plan token differs from
-- the session's (ev[7] = 'T': first row of a session, or the table changed since), or it does not
-- know the trigger or the table ('?': created in this transaction). Brings the encoder up to date
-- (pgq._trigger_prepare: catalog queries, regenerates it only when the table's signature
-- changed), records the current encoder's token as the session's (pgq.tgt<relid>) and encodes the
-- row with it; returns what the encoder returned (NULL, or 'd' or 'y' in element 7).
create or replace function pgq._trigger_reencode(i_relid oid, i_tg text, i_op text, i_new anyelement, i_old anyelement)
returns text[]
language plpgsql
as $$
declare
    ev text[];
    tok text;
begin
    perform pgq._trigger_prepare(i_relid);
    -- at most two more calls: a regenerated encoder has a token of its own
    for attempt in 1 .. 3 loop
        ev := pgq._trigger_encode(i_relid, i_tg, i_op, i_new, i_old);
        if ev is null then
            return null;   -- done (an AFTER trigger)
        end if;
        if ev[7] = 'T' then
            tok := pg_catalog.set_config('pgq.tgt' || i_relid, ev[1], false);
        elsif ev[7] is distinct from 'd' and ev[7] is distinct from 'y' then
            exit;
        else
            return ev;
        end if;
    end loop;
    raise exception 'pgq trigger %: no encoder for table %', i_tg, i_relid::regclass using errcode = 'PQ020';
end;
$$;
