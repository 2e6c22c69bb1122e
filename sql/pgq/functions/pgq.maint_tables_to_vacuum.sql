-- pgq.maint_tables_to_vacuum() returns setof text
--
-- Busy small tables of PgQ (and of pgq_ext, pgq_node, londiste when installed) that the
-- maintenance runner should VACUUM. Empty when autovacuum is on, as the original.
create or replace function pgq.maint_tables_to_vacuum()
returns setof text
language plpgsql
as $$
declare
    scm text;
    tbl text;
begin
    if current_setting('autovacuum') = 'on' then
        return;
    end if;
    for scm, tbl in values
        ('pgq', 'subscription_state'), ('pgq', 'consumer'), ('pgq', 'queue'), ('pgq', 'tick'),
        ('pgq', 'retry_queue'), ('pgq_ext', 'completed_tick'), ('pgq_ext', 'completed_batch'),
        ('pgq_ext', 'completed_event'), ('pgq_ext', 'partial_batch'), ('pgq_node', 'local_state'),
        ('londiste', 'seq_info'), ('txid', 'epoch'), ('londiste', 'completed')
    loop
        if to_regclass(quote_ident(scm) || '.' || quote_ident(tbl)) is not null then
            return next scm || '.' || tbl;
        end if;
    end loop;
end;
$$;
