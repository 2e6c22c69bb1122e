// The `[londiste]` section of a Londiste job .ini, with the original's keys (londiste3's
// Replicator and LondisteSetup, the CascadedWorker and DBScript under them), declared as specs of
// the one settings mechanism on top of the cascade job's, and the loader that turns the section into
// the config the admin, the replay worker and the copy job read.
import os from 'node:os';
import path from 'node:path';
import { DATABASE_SETTINGS } from '../aws/settings.ts';
import { CASCADE_SETTINGS, type CascadeConfig, cascadeJobConfig } from '../cascade/settings.ts';
import { readIni } from '../config/ini.ts';
import { ConfigError, defineSettings, type SettingsOf, setting } from '../config/settings.ts';
import { globToRegExp } from './admin-names.ts';
import { DEFAULT_COPY_STREAMS, DEFAULT_MIN_ROWS_PER_STREAM } from './copy/ranges.ts';

/**
 * Tables copied at the same time by default. The original copies one at a time (1); ours copies
 * up to 4: a copy spends most of its wall time in the COPY stream and the index build, which wait on
 * two databases rather than on this process, and each holds only two connections, so four keep
 * several small tables from queueing behind one big one without crowding a 2-core subscriber.
 */
export const DEFAULT_PARALLEL_COPIES = 4;

/** Where the main worker runs copy jobs: child processes (local) or ECS tasks (deployed). */
export const LAUNCHERS = ['child', 'ecs'] as const;
export type LauncherKind = (typeof LAUNCHERS)[number];

const cascade = CASCADE_SETTINGS.specs;

export const LONDISTE_SETTINGS = defineSettings('londiste', {
  ...cascade,
  // The container of a deployed node has no .ini: the keys it needs also read LONDISTE_* variables.
  job_name: { ...cascade.job_name, env: 'LONDISTE_JOB_NAME' },
  queue_name: { ...cascade.queue_name, env: 'LONDISTE_QUEUE' },
  node_name: { ...cascade.node_name, env: 'LONDISTE_NODE' },
  initial_provider_location: {
    ...cascade.initial_provider_location,
    env: 'LONDISTE_PROVIDER_LOCATION',
    doc: "provider connect string for create-branch/leaf when --provider is not given (in a task: without password, it comes from the provider's secret)",
  },
  parallel_copies: setting.integer({
    env: 'LONDISTE_PARALLEL_COPIES',
    default: DEFAULT_PARALLEL_COPIES,
    min: 1,
    max: 64,
    doc: 'how many tables may be in copy at the same time (the original: 1)',
  }),
  local_only: setting.boolean({
    default: false,
    doc: 'accept only events for tables registered on this node (others are dropped, not queued on)',
  }),
  local_only_drop_execute: setting.boolean({
    default: false,
    doc: 'with local_only: also drop EXECUTE events that touch no local table',
  }),
  lock_timeout: setting.seconds({
    default: 10,
    min: 0,
    doc: 'how long setup and compare/repair may hold a table lock (statement_timeout; 0: no limit)',
  }),
  table_filter: setting.list({
    doc: "replay only events of these tables (ev_extra1; no schema: public); the set's own events still pass; empty: all",
  }),
  pgq_lazy_fetch: setting.integer({
    default: 300,
    min: 0,
    doc: "accepted for the original's configs; ours always reads a batch through a cursor, 5000 events per FETCH (the first 1000)",
  }),
  handler_modules: setting.list({
    doc: 'extra handler modules to load: ES module paths (relative to the config file) or packages that register handlers',
  }),
  copy_streams: setting.integer({
    default: DEFAULT_COPY_STREAMS,
    min: 1,
    max: 64,
    doc: 'COPY streams per table copy, each a primary-key range under one provider snapshot (tables of threaded_copy_tables: threaded_copy_pool_size); one stream loads frozen (COPY FREEZE), several need a VACUUM after and pay off only with cores to spare',
  }),
  copy_min_rows_per_stream: setting.integer({
    default: DEFAULT_MIN_ROWS_PER_STREAM,
    min: 0,
    doc: 'a table gets fewer streams when it has fewer rows than this per stream (pg_class.reltuples; 0: always split)',
  }),
  shard_hash_func: setting.string({
    doc: 'shard/part handlers: the hash function of the key column (default partconf.get_hash_raw)',
  }),
  shard_info_sql: setting.string({
    doc: "shard/part handlers: the node's shard_nr, shard_mask, shard_count (default: select shard_nr, shard_mask, shard_count from partconf.conf)",
  }),
  obfuscator_map: setting.string({
    doc: 'obfuscate handler: the rules file (YAML or JSON; per table, per column keep/skip/bool/hash32/hash64/hash)',
  }),
  obfuscator_key: setting.string({ doc: 'obfuscate handler: the key of its keyed hash' }),
  threaded_copy_tables: setting.list({
    doc: 'table globs copied in parallel primary-key ranges (archive.*, public.big_*)',
  }),
  threaded_copy_pool_size: setting.integer({
    default: 1,
    min: 1,
    max: 64,
    doc: 'parallel ranges per table of threaded_copy_tables',
  }),
  register_only_tables: setting.list({
    doc: 'create-branch/leaf and add-table: register only these tables of the provider',
  }),
  register_only_seqs: setting.list({
    doc: 'create-branch/leaf and add-seq: register only these sequences of the provider',
  }),
  register_skip_tables: setting.list({ doc: 'tables of the provider never registered here' }),
  register_skip_seqs: setting.list({ doc: 'sequences of the provider never registered here' }),
  remote_extra_connstr: setting.string({
    doc: 'appended to the connect strings of other nodes (e.g. user=… sslmode=require)',
  }),
  compare_sql: setting.string({
    doc: '',
    ignored: 'compare always counts and checksums in key ranges (layers/londiste/compare)',
  }),
  compare_fmt: setting.string({ doc: '', ignored: 'compare prints both sides and the differing ranges' }),
  compare_parallel: setting.integer({
    default: 2,
    min: 1,
    max: 32,
    doc: 'compare/repair: connections per side checking key ranges at once',
  }),
  compare_split_rows: setting.integer({
    default: 200_000,
    min: 1,
    doc: 'compare: tables estimated above this many rows are checked in primary-key ranges',
  }),
  launcher: setting.choice(LAUNCHERS, {
    env: 'LONDISTE_LAUNCHER',
    default: 'child',
    doc: 'where the worker runs copy jobs: child processes of the worker, or ECS tasks (RunTask of copy_task_definition)',
  }),
  copy_cluster: setting.string({
    env: 'LONDISTE_COPY_CLUSTER',
    doc: 'launcher ecs: the cluster copy tasks run in',
  }),
  copy_task_definition: setting.string({
    env: 'LONDISTE_COPY_TASK_DEFINITION',
    doc: 'launcher ecs: the copy task definition (family, family:revision or ARN)',
  }),
  copy_container: setting.string({
    env: 'LONDISTE_COPY_CONTAINER',
    doc: "launcher ecs: the task definition's container whose command becomes `londiste copy <table>`",
  }),
  copy_subnets: setting.list({
    env: 'LONDISTE_COPY_SUBNETS',
    doc: 'launcher ecs: awsvpc subnets of copy tasks',
  }),
  copy_security_groups: setting.list({
    env: 'LONDISTE_COPY_SECURITY_GROUPS',
    doc: 'launcher ecs: security groups of copy tasks',
  }),
  // DBScript keys the original reads that have no counterpart here.
  log_size: setting.size({ doc: '', ignored: 'logfile is appended to; rotate it with logrotate' }),
  log_count: setting.integer({ doc: '', ignored: 'logfile is appended to; rotate it with logrotate' }),
  connection_lifetime: setting.seconds({
    doc: '',
    ignored: 'connections live as long as the worker; a lost one is reopened by the back-off',
  }),
  exception_sleep: setting.seconds({
    doc: '',
    ignored: 'after an error the worker backs off from loop_delay, doubling up to a cap',
  }),
  keepalive_stats: setting.seconds({ doc: '', ignored: 'status reads lag from the queue itself' }),
});

export type LondisteSettings = SettingsOf<typeof LONDISTE_SETTINGS.specs>;

export const NODE_TYPES = ['root', 'branch', 'leaf'] as const;

/**
 * What a deployed node's container reads besides the [londiste] keys (environment only, no .ini):
 * its database (the secret every function uses, here as DB_SECRET_ARN), the provider's password
 * (a secret of the same JSON shape), and the node type it was declared as.
 */
export const LONDISTE_TASK_SETTINGS = defineSettings('londiste-task', {
  ...DATABASE_SETTINGS.specs,
  database_secret_arn: {
    ...DATABASE_SETTINGS.specs.database_secret_arn,
    env: 'DB_SECRET_ARN',
    doc: "this node's database: Secrets Manager secret with the RDS JSON shape (host, port, dbname, username, password)",
  },
  provider_secret_arn: setting.string({
    env: 'LONDISTE_PROVIDER_SECRET_ARN',
    doc: "secret (same JSON shape) whose password (and username, when the location names none) the worker uses for the provider's location",
  }),
  metrics_period: setting.seconds({
    env: 'LONDISTE_METRICS_PERIOD',
    default: 60,
    min: 0,
    doc: 'how often the main worker publishes its metrics (CloudWatch EMF lines on stdout; 0: none)',
  }),
  node_type: setting.choice(NODE_TYPES, {
    env: 'LONDISTE_NODE_TYPE',
    doc: 'the type the node was declared as; the worker refuses to start on a node of another type',
  }),
});

export type LondisteTaskSettings = SettingsOf<typeof LONDISTE_TASK_SETTINGS.specs>;

export interface LondisteConfig extends CascadeConfig {
  /** The section read ([londiste] unless --section named another). */
  section: string;
  /** The config file, absolute (the worker starts copy jobs with it). */
  configFile: string;
  parallelCopies: number;
  localOnly: boolean;
  localOnlyDropExecute: boolean;
  lockTimeoutMs: number;
  tableFilter: string[];
  lazyFetch: number;
  handlerModules: string[];
  copyStreams: number;
  copyMinRowsPerStream: number;
  threadedCopyTables: string[];
  threadedCopyPoolSize: number;
  registerOnlyTables: string[];
  registerOnlySeqs: string[];
  registerSkipTables: string[];
  registerSkipSeqs: string[];
  remoteExtraConnstr?: string;
  compareSql?: string;
  compareFmt?: string;
  londiste: LondisteSettings;
  /** The section as written (interpolated): a handler_modules handler's own keys are read here. */
  sectionValues: Readonly<Record<string, string>>;
  /** Set when the config came from the environment alone (a deployed node's container). */
  task?: LondisteTaskSettings;
}

export interface LoadLondisteOptions {
  /** The job section (default: [londiste], else the only section of the file). */
  section?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Reads a Londiste job .ini. As the original: job_name defaults to the file's base name, and values
 * may use `%(key)s` / `${key}` (`%%`, `$$`: the character itself) for other keys of the section and job_name, service_name,
 * host_name, config_dir, config_file (e.g. `logfile = log/%(job_name)s.log`).
 */
export function loadLondisteConfig(file: string, o: LoadLondisteOptions = {}): LondisteConfig {
  const sections = readIni(file);
  const names = Object.keys(sections);
  const name = o.section ?? (sections.londiste ? 'londiste' : names.length === 1 ? names[0] : undefined);
  if (!name || !sections[name]) {
    throw new ConfigError(
      `${file}: no [${o.section ?? 'londiste'}] section${names.length ? ` (found: ${names.map((n) => `[${n}]`).join(' ')})` : ''}`,
      { kind: 'missing' },
    );
  }
  const values0 = interpolate(sections[name]!, file, name);
  const env = o.env ?? process.env;
  const { values, warnings } = LONDISTE_SETTINGS.load({
    file: { path: file, section: name, values: values0, otherKeys: HANDLER_CONF_KEYS },
    env,
  });
  const jobName = values.job_name ?? path.basename(file).replace(/\.[^.]*$/, '');
  const where = `${file} [${name}]`;
  if (!values.queue_name) throw new ConfigError(`${where}: queue_name is not set`, { kind: 'missing' });
  // The file's db wins over $DATABASE_URL: one environment often runs several nodes' jobs.
  const db = values.db ?? env.DATABASE_URL;
  if (!db)
    throw new ConfigError(`${where}: db (connect string of this node) is not set`, { kind: 'missing' });
  return londisteConfig(values, {
    jobName,
    db,
    where,
    warnings,
    section: name,
    configFile: path.resolve(file),
    sectionValues: values0,
  });
}

/**
 * A node's config from the environment alone, as its container gets it (no .ini): the [londiste]
 * keys from their LONDISTE_* variables, the database from DB_SECRET_ARN (or DATABASE_URL locally).
 * `db` is then DATABASE_URL or empty: connect through `task` (layers/londiste/task-connect.ts).
 */
/**
 * The `[londiste]` keys the built-in handlers read for themselves (their loadConf, as the
 * original's load_conf): shard's hash function and shard info query, obfuscate's key and map.
 * Listed here, not imported from the registry, so that loading settings loads no handler;
 * test/londiste/settings.unit.test.ts holds the list to what the handlers ask for. A
 * handler_modules handler's own keys are not known before its module loads: they are warned
 * about as unknown (and still read by it).
 */
export const HANDLER_CONF_KEYS: readonly string[] = [
  'shard_hash_func',
  'shard_info_sql',
  'obfuscator_key',
  'obfuscator_map',
];

export function loadLondisteEnvConfig(env: NodeJS.ProcessEnv = process.env): LondisteConfig {
  const { values, warnings } = LONDISTE_SETTINGS.load({ env });
  const task = LONDISTE_TASK_SETTINGS.load({ env }).values;
  const where = 'environment';
  if (!values.queue_name) throw new ConfigError(`${where}: LONDISTE_QUEUE is not set`, { kind: 'missing' });
  if (!values.job_name)
    throw new ConfigError(`${where}: LONDISTE_JOB_NAME is not set (the worker's name)`, { kind: 'missing' });
  if (!task.database_secret_arn && !task.database_url)
    throw new ConfigError(`${where}: set DB_SECRET_ARN (in AWS) or DATABASE_URL (locally)`, {
      kind: 'missing',
    });
  const cfg = londisteConfig(values, {
    jobName: values.job_name,
    db: task.database_secret_arn ? '' : (task.database_url ?? ''),
    where,
    warnings,
    section: 'londiste',
    configFile: '',
    sectionValues: {},
  });
  return { ...cfg, task };
}

function londisteConfig(
  values: LondisteSettings,
  o: {
    jobName: string;
    db: string;
    where: string;
    warnings: string[];
    section: string;
    configFile: string;
    sectionValues: Readonly<Record<string, string>>;
  },
): LondisteConfig {
  if (!values.queue_name) throw new ConfigError(`${o.where}: queue_name is not set`, { kind: 'missing' });
  return {
    ...cascadeJobConfig(values, {
      jobName: o.jobName,
      queue: values.queue_name,
      db: o.db,
      warnings: o.warnings,
    }),
    section: o.section,
    configFile: o.configFile,
    parallelCopies: values.parallel_copies,
    localOnly: values.local_only,
    localOnlyDropExecute: values.local_only_drop_execute,
    lockTimeoutMs: values.lock_timeout * 1000,
    tableFilter: values.table_filter ?? [],
    lazyFetch: values.pgq_lazy_fetch,
    handlerModules: values.handler_modules ?? [],
    copyStreams: values.copy_streams,
    copyMinRowsPerStream: values.copy_min_rows_per_stream,
    threadedCopyTables: values.threaded_copy_tables ?? [],
    threadedCopyPoolSize: values.threaded_copy_pool_size,
    registerOnlyTables: values.register_only_tables ?? [],
    registerOnlySeqs: values.register_only_seqs ?? [],
    registerSkipTables: values.register_skip_tables ?? [],
    registerSkipSeqs: values.register_skip_seqs ?? [],
    remoteExtraConnstr: values.remote_extra_connstr,
    compareSql: values.compare_sql,
    compareFmt: values.compare_fmt,
    londiste: values,
    sectionValues: o.sectionValues,
  };
}

/**
 * The COPY streams of a table's copy: threaded_copy_pool_size for the tables threaded_copy_tables
 * names (the original's per-table parallel copy), copy_streams for the others.
 */
export function copyStreamsFor(cfg: LondisteConfig, table: string): number {
  return cfg.threadedCopyTables.some((g) => globToRegExp(g).test(table))
    ? cfg.threadedCopyPoolSize
    : cfg.copyStreams;
}

/** The original's `%(key)s` and `${key}` references, resolved within the section and its defaults. */
function interpolate(section: Record<string, string>, file: string, name: string): Record<string, string> {
  const defs: Record<string, string> = {
    job_name: path.basename(file).replace(/\.[^.]*$/, ''),
    service_name: 'londiste',
    host_name: os.hostname(),
    config_dir: path.dirname(file),
    config_file: file,
  };
  const out: Record<string, string> = {};
  const resolve = (key: string, seen: string[]): string => {
    if (key in out) return out[key]!;
    const raw = section[key] ?? defs[key];
    if (raw === undefined) {
      throw new ConfigError(`${file} [${name}]: ${seen.at(-1)} refers to unknown key "${key}"`);
    }
    if (seen.includes(key)) {
      throw new ConfigError(`${file} [${name}]: reference loop ${[...seen, key].join(' → ')}`);
    }
    // '%%' and '$$' stand for themselves; a lone '%' (e.g. in a URL's %40) is kept as written.
    const v = raw.replace(
      /%%|\$\$|%\(([A-Za-z0-9_]+)\)s|\$\{([A-Za-z0-9_]+)\}/g,
      (m, a?: string, b?: string) => ((a ?? b) ? resolve((a ?? b)!, [...seen, key]) : m[0]!),
    );
    if (key in section) out[key] = v;
    return v;
  };
  for (const k of Object.keys(section)) resolve(k, []);
  return out;
}
