-- pgq_coop (cooperative consumers), pure SQL + PL/pgSQL. Needs sql/pgq installed first.
\ir tables.sql

\ir functions/pgq_coop.version.sql
\ir functions/pgq_coop.register_subconsumer.sql
\ir functions/pgq_coop.unregister_subconsumer.sql
\ir functions/pgq_coop.next_batch.sql
\ir functions/pgq_coop.finish_batch.sql

\ir grants.sql
