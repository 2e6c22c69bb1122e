// The local stack's config file (`skytools dev [stack.ini]`): a [dev] section, [queue NAME]
// sections (pgq.set_queue_config keys, passed through) and [consumer NAME] sections.
import path from 'node:path';
import { readIni } from '../config/ini.ts';
import { ConfigError, defineSettings, setting } from '../config/settings.ts';

export const DEV_SETTINGS = defineSettings('dev', {
  database: setting.string({ env: 'DATABASE_URL', doc: 'postgres:// URL; default: the embedded PostgreSQL' }),
  data_dir: setting.string({
    env: 'SKYTOOLS_DEV_DATA',
    default: '.data/dev-pg',
    doc: 'embedded cluster directory (kept between runs), relative to the config file',
  }),
  port: setting.integer({
    env: 'SKYTOOLS_DEV_PORT',
    default: 54329,
    min: 0,
    max: 65535,
    doc: 'embedded server port (another free one if taken)',
  }),
  ticker_period: setting.seconds({
    default: 1,
    min: 0.01,
    doc: "period of the ticker's pass over every queue (PgQ's rules: ticker_max_lag, ticker_max_count, idle ticks)",
  }),
  poll_period: setting.seconds({
    default: '5ms',
    min: 0,
    doc: 'how often to look for committed events on queues that do not batch and tick them at once; 0: off',
  }),
  retry_period: setting.seconds({ default: 1, min: 0.01, doc: 'retry-event period' }),
  maint_period: setting.seconds({ default: 30, min: 0.01, doc: 'maintenance period' }),
  setup_sql: setting.string({ doc: 'SQL file run once at start (relative to the config file)' }),
  demo_producer_sql: setting.string({ doc: 'statement run every demo_producer_period to make traffic' }),
  demo_producer_period: setting.seconds({ default: 1, min: 0.01, doc: 'demo traffic period' }),
  status_period: setting.seconds({ default: 1, min: 0.1, doc: 'status view refresh period' }),
  replicate_tables: setting.list({
    doc: 'Londiste: tables replicated from the stack database (the root) into a leaf database on the same server; empty: no replication',
  }),
  leaf_database: setting.string({ doc: "the leaf's database (created if missing); default <database>_leaf" }),
});

/** A [consumer NAME] section of the local stack. */
export const DEV_CONSUMER_SETTINGS = defineSettings('consumer NAME', {
  queue: setting.string({ doc: 'queue to consume (required)' }),
  handler: setting.string({
    doc: 'module exporting the batch handler (default export or `handler`), relative to the config file (required)',
  }),
  loop_delay: setting.seconds({
    default: 1,
    min: 0.001,
    doc: 'sleep when idle (a new tick wakes it sooner)',
  }),
  lazy_fetch: setting.integer({
    default: 0,
    min: 0,
    doc: 'fetch events through a cursor this many at a time',
  }),
  batch_collect_events: setting.integer({ min: 1, doc: 'wait until a batch has this many events' }),
  keep_lag: setting.seconds({ min: 0, doc: 'only take ticks at least this old' }),
});

export interface ConsumerDecl {
  name: string;
  queue: string;
  handlerPath: string;
  loopDelayMs: number;
  lazyFetch: number;
  minCount?: number;
  minLagMs?: number;
}

export interface DevConfig {
  file: string;
  database?: string;
  dataDir: string;
  port: number;
  tickerPeriodMs: number;
  pollPeriodMs: number;
  retryPeriodMs: number;
  maintPeriodMs: number;
  setupSql?: string;
  demoProducerSql?: string;
  demoProducerPeriodMs: number;
  statusPeriodMs: number;
  replicateTables?: string[];
  leafDatabase?: string;
  queues: Map<string, Record<string, string>>;
  consumers: ConsumerDecl[];
  warnings: string[];
}

export function loadDevConfig(file: string): DevConfig {
  const sections = readIni(file);
  const dir = path.dirname(path.resolve(file));
  const rel = (p: string) => path.resolve(dir, p);
  const { values, warnings } = DEV_SETTINGS.load({
    file: { path: file, section: 'dev', values: sections.dev ?? {} },
    env: process.env,
  });
  const cfg: DevConfig = {
    file,
    database: values.database,
    dataDir: rel(values.data_dir),
    port: values.port,
    tickerPeriodMs: values.ticker_period * 1000,
    pollPeriodMs: values.poll_period * 1000,
    retryPeriodMs: values.retry_period * 1000,
    maintPeriodMs: values.maint_period * 1000,
    setupSql: values.setup_sql ? rel(values.setup_sql) : undefined,
    demoProducerSql: values.demo_producer_sql,
    demoProducerPeriodMs: values.demo_producer_period * 1000,
    statusPeriodMs: values.status_period * 1000,
    replicateTables: values.replicate_tables ?? [],
    leafDatabase: values.leaf_database,
    queues: new Map(),
    consumers: [],
    warnings,
  };
  for (const [section, body] of Object.entries(sections)) {
    const m = /^(queue|consumer)\s+(.+)$/.exec(section);
    if (section === 'dev') continue;
    if (!m) {
      warnings.push(`${file}: unknown section [${section}] ignored`);
      continue;
    }
    const name = m[2]!.trim();
    if (m[1] === 'queue') {
      cfg.queues.set(name, body);
      continue;
    }
    const where = `${file} [consumer ${name}]`;
    const c = DEV_CONSUMER_SETTINGS.load({ file: { path: file, section: `consumer ${name}`, values: body } });
    warnings.push(...c.warnings);
    if (!c.values.queue) throw new ConfigError(`${where}: "queue" is required`);
    if (!c.values.handler)
      throw new ConfigError(`${where}: "handler" is required (a module exporting the batch handler)`);
    cfg.consumers.push({
      name,
      queue: c.values.queue,
      handlerPath: rel(c.values.handler),
      loopDelayMs: c.values.loop_delay * 1000,
      lazyFetch: c.values.lazy_fetch,
      minCount: c.values.batch_collect_events,
      minLagMs: c.values.keep_lag == null ? undefined : c.values.keep_lag * 1000,
    });
  }
  return cfg;
}
