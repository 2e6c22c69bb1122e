// The one table of the SQLSTATEs our SQL modules raise (`raise … using errcode = 'XXnnn'` in
// sql/**). TypeScript maps a pg error to a domain error by this table (mapper.ts), the error-code
// section of sql/README.md is generated from it (sqlStateMarkdown), and a test fails when a code in
// sql/ is missing here or a code here is raised nowhere. Codes are never matched by message text.

export interface SqlStateSpec {
  /** The SQL module whose functions raise it. */
  readonly module: 'pgq' | 'pgq_node' | 'pgq_coop';
  /** The `kind` of the domain error a caller sees. */
  readonly kind: string;
  /** One line for sql/README.md. */
  readonly meaning: string;
}

export const SQLSTATES = {
  PQ001: { module: 'pgq', kind: 'unknown_queue', meaning: 'unknown queue' },
  PQ002: { module: 'pgq', kind: 'not_subscribed', meaning: 'consumer not subscribed / not registered' },
  PQ003: {
    module: 'pgq',
    kind: 'unknown_batch',
    meaning: 'unknown or finished batch, event not in batch, tick not found',
  },
  PQ004: { module: 'pgq', kind: 'insert_disabled', meaning: 'insert into the queue is disabled' },
  PQ005: { module: 'pgq', kind: 'tx_limit', meaning: 'per-transaction event limit exceeded' },
  PQ006: {
    module: 'pgq',
    kind: 'invalid_argument',
    meaning: 'invalid argument (NULL, unknown parameter, bad array sizes)',
  },
  PQ007: { module: 'pgq', kind: 'queue_in_use', meaning: 'queue still has consumers' },
  PQ008: {
    module: 'pgq',
    kind: 'ticker_not_allowed',
    meaning: 'ticker not allowed (external tick source, paused, no ticks yet)',
  },
  PQ009: {
    module: 'pgq',
    kind: 'corrupt_state',
    meaning: 'inconsistent PgQ state (corruption, maintenance failure)',
  },
  PQ010: {
    module: 'pgq',
    kind: 'c_extension_present',
    meaning: 'the C extension is installed in this database',
  },
  PQ020: {
    module: 'pgq',
    kind: 'trigger_refused',
    meaning:
      'event trigger refused: bad argument, no primary key, key change, deny, SKIP on AFTER, bad when= (sql/pgq/triggers)',
  },
  PN001: {
    module: 'pgq_node',
    kind: 'unknown_queue',
    meaning: 'queue does not exist on this node (is_root_node, is_leaf_node)',
  },
  PN002: {
    module: 'pgq_node',
    kind: 'wrong_step_order',
    meaning: 'demote_root steps in the wrong order',
  },
  PN003: { module: 'pgq_node', kind: 'bad_step', meaning: 'incorrect demote_root step number' },
  PN004: {
    module: 'pgq_node',
    kind: 'null_watermark',
    meaning: 'local_watermark=NULL (set_global_watermark on a root without ticks)',
  },
  PC001: { module: 'pgq_coop', kind: 'unknown_consumer', meaning: 'main consumer not found' },
  PC002: { module: 'pgq_coop', kind: 'batch_open', meaning: 'main consumer has batch open' },
  PC003: { module: 'pgq_coop', kind: 'unknown_subconsumer', meaning: 'subconsumer not found' },
  PC004: { module: 'pgq_coop', kind: 'subconsumer_busy', meaning: 'subconsumer has active batch' },
} as const satisfies Record<string, SqlStateSpec>;

export type SqlState = keyof typeof SQLSTATES;
type Spec = (typeof SQLSTATES)[SqlState];

/** Kinds raised by the pgq module (PgqError) and by pgq_node / pgq_coop (CascadeError). */
export type PgqSqlKind = Extract<Spec, { module: 'pgq' }>['kind'];
export type CascadeSqlKind = Extract<Spec, { module: 'pgq_node' | 'pgq_coop' }>['kind'];

export function isSqlState(code: unknown): code is SqlState {
  return typeof code === 'string' && Object.hasOwn(SQLSTATES, code);
}

/** The error-code table of sql/README.md (between its sqlstates markers). */
export function sqlStateMarkdown(): string {
  const rows = Object.entries(SQLSTATES).map(
    ([code, s]) => `| ${code} | ${s.module} | ${s.kind} | ${s.meaning} |`,
  );
  return ['| SQLSTATE | module | kind | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
