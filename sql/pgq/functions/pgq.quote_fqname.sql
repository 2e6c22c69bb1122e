-- pgq.quote_fqname(i_name text) returns text
--
-- Quotes a possibly schema-qualified name: 'a.b' -> quote_ident(a).quote_ident(b); a name
-- without a dot is taken to be in schema public. Only the first dot splits.
-- Returns NULL for NULL input. Touches no tables. Not declared strict, though it acts so, because
-- a strict function is not inlined: a call planned as a function of its own costs more than the
-- whole expression (batch_event_sql, seq_getval and seq_setval call it on the hot path).
create or replace function pgq.quote_fqname(i_name text)
returns text
language sql immutable parallel safe
as $$
    select case when position('.' in i_name) > 0
        then quote_ident(split_part(i_name, '.', 1)) || '.'
             || quote_ident(substr(i_name, position('.' in i_name) + 1))
        else 'public.' || quote_ident(i_name)
    end;
$$;
