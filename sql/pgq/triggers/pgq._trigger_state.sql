-- Table pgq._trigger_state: one row per table whose pgq triggers have a generated encoder.
--
--   relid      the table
--   signature  catalog state the encoder was generated from (schema and table name, columns,
--              primary key, pgq triggers with their arguments); a different signature means
--              the encoder is regenerated
--   fn_name    the generated encoder, pgq._tgenc_<relid>(tgname, op, new, old)
--
-- Written only by pgq._trigger_prepare (security definer). Rows of dropped tables are removed
-- the next time the dispatcher pgq._trigger_encode is regenerated.
create table if not exists pgq._trigger_state (
    relid     oid primary key,
    signature text not null,
    fn_name   text not null
);
revoke all on table pgq._trigger_state from public;
