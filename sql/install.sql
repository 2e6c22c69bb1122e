-- skytools: installs or upgrades every SQL module, in one transaction.
--
--   psql -X -v ON_ERROR_STOP=1 -d DB -f sql/install.sql
--   skytools install --db URL              (runs this same manifest without psql)
--
-- Needs only CREATE on the database (no superuser, no C). Re-running it is an upgrade or a
-- no-op; queued events are kept.
\set ON_ERROR_STOP 1
begin;
set local client_min_messages = warning;
-- Functions may refer to ones defined later in the manifest (as pg_dump output does).
set local check_function_bodies = off;
\ir preflight.sql
\ir pgq/install.sql
\ir pgq_node/install.sql
\ir londiste/install.sql
\ir pgq_coop/install.sql
\ir pgq_ext/install.sql
commit;
