-- Event triggers: pgq.logutriga, pgq.sqltriga, pgq.jsontriga (see README.md beside this file).
\ir pgq._trigger_state.sql

-- helpers
\ir pgq._trigger_error.sql
\ir pgq._urlenc_ascii.sql
\ir pgq._urlenc_nonascii.sql
\ir pgq._urlenc_call.sql
\ir pgq._urlenc_opt.sql
\ir pgq._urlenc_struct.sql
\ir pgq._urlenc_slow.sql
\ir pgq._urlenc.sql
\ir pgq._trigger_parse_args.sql
\ir pgq._trigger_expr_param.sql

-- code generation
\ir pgq._trigger_field.sql
\ir pgq._trigger_outexpr.sql
\ir pgq._trigger_gen_changed.sql
\ir pgq._trigger_gen_keyeq.sql
\ir pgq._trigger_gen_where.sql
\ir pgq._trigger_gen_concat.sql
\ir pgq._trigger_gen_urlrow.sql
\ir pgq._trigger_gen_urlassign.sql
\ir pgq._trigger_gen_jsonrow.sql
\ir pgq._trigger_copy_acl.sql
\ir pgq._trigger_gen_insert.sql
\ir pgq._trigger_queue_insert.sql
\ir pgq._queue_insert_sweep.sql
\ir pgq._trigger_gen_branch.sql
\ir pgq._trigger_gen_case.sql
\ir pgq._trigger_gen_iftree.sql
\ir pgq._trigger_gen_dispatcher.sql
\ir pgq._trigger_gen_rowfast.sql
\ir pgq._trigger_gen_rowfn.sql
\ir pgq._trigger_plantoken.sql
\ir pgq._trigger_prepare.sql
\ir pgq._trigger_encode.sql
\ir pgq._trigger_reencode.sql
\ir pgq._trigger_truncate.sql

-- the triggers
\ir pgq.logutriga.sql
\ir pgq.sqltriga.sql
\ir pgq.jsontriga.sql
\ir pgq._trigger_rowfn.sql

\ir pgq._trigger_install_refresh.sql
