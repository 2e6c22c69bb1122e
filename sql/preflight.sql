-- Checks before anything is created: one installer at a time, and never over the C extension.
do $preflight$
begin
    -- Two installers racing (e.g. Lambdas at deploy time) run one after the other.
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('skytools.install'));

    if exists (select 1 from pg_catalog.pg_extension where extname = 'pgq') then
        raise exception 'the C extension "pgq" is installed in database %', current_database()
            using errcode = 'PQ010',
                  hint = 'skytools installs PgQ as plain SQL into the same schema. Keep using the extension, '
                      || 'or DROP EXTENSION pgq CASCADE first (this drops its queues and events).';
    end if;
    if exists (select 1 from pg_catalog.pg_extension where extname in ('pgq_node', 'londiste')) then
        raise exception 'a C/packaged extension of skytools (pgq_node or londiste) is installed in database %',
            current_database()
            using errcode = 'PQ010',
                  hint = 'Drop the packaged extensions first; skytools installs the same schemas as plain SQL.';
    end if;
end
$preflight$;
