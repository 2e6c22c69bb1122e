-- pgq_coop 3.x (cooperative consumers), pure SQL + PL/pgSQL. Needs sql/pgq installed first.
\ir tables.sql
