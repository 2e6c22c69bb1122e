// The cascade job's .ini settings, with the original SkyTools keys (setadm / CascadedWorker).
import { readIni } from '../config/ini.ts';
import { ConfigError, resolveSettings, type SettingSpec, type SettingValue } from '../config/settings.ts';

export const CASCADE_SETTINGS: readonly SettingSpec[] = [
  { key: 'job_name', type: 'string', doc: 'name of the job; also the worker (consumer) name of this node' },
  { key: 'queue_name', env: 'PGQ_QUEUE', type: 'string', doc: 'the cascaded queue' },
  { key: 'pgq_queue_name', type: 'string', doc: 'old name of queue_name' },
  {
    key: 'db',
    env: 'DATABASE_URL',
    type: 'string',
    doc: 'connect string of this node (libpq key=value or postgres:// URL)',
  },
  { key: 'node_db', type: 'string', doc: 'the original setadm name of db' },
  { key: 'node_name', type: 'string', doc: "this node's name (create-* when not given on the command line)" },
  {
    key: 'public_node_location',
    type: 'string',
    doc: 'connect string other nodes use to reach this node (default: db)',
  },
  {
    key: 'initial_provider_location',
    type: 'string',
    doc: 'provider connect string for create-branch/leaf when --provider is not given',
  },
  { key: 'worker_name', type: 'string', doc: 'worker (consumer) name; default job_name' },
  { key: 'loop_delay', type: 'seconds', default: '1', min: 0.01, doc: 'worker sleep when idle' },
  {
    key: 'local_wm_publish_period',
    type: 'seconds',
    default: '300',
    min: 0,
    doc: 'how often a node reports its watermark upstream',
  },
  {
    key: 'global_wm_publish_period',
    type: 'seconds',
    default: '300',
    min: 0,
    doc: 'how often the root publishes the global watermark',
  },
  { key: 'logfile', type: 'string', doc: 'append logs here instead of stderr' },
  { key: 'pidfile', type: 'string', doc: "write the worker's pid here while it runs" },
  { key: 'use_skylog', type: 'boolean', doc: '', ignored: 'logging is configured with logfile / LOG_FORMAT' },
];

export interface CascadeConfig {
  jobName: string;
  queue: string;
  db: string;
  worker: string;
  nodeName?: string;
  publicLocation?: string;
  initialProvider?: string;
  loopDelayMs: number;
  localWmPublishPeriodMs: number;
  globalWmPublishPeriodMs: number;
  logfile?: string;
  pidfile?: string;
  warnings: string[];
  raw: Record<string, SettingValue>;
}

/** Reads the job section ([setadm], [cascade], else the only/first section) of a cascade .ini. */
export function loadCascadeConfig(file: string, section?: string): CascadeConfig {
  const sections = readIni(file);
  const name = section ?? ['setadm', 'cascade'].find((s) => sections[s]) ?? Object.keys(sections)[0];
  if (!name || !sections[name]) throw new ConfigError(`${file}: no [${section ?? 'setadm'}] section`);
  const { values, warnings } = resolveSettings(
    CASCADE_SETTINGS,
    { file: sections[name], env: process.env },
    `${file} [${name}]`,
  );
  const str = (k: string) => (values[k] as string | undefined) || undefined;
  const jobName = str('job_name') ?? name;
  const queue = str('queue_name') ?? str('pgq_queue_name');
  if (!queue) throw new ConfigError(`${file} [${name}]: queue_name is not set`);
  const db = str('node_db') ?? (sections[name].db ? sections[name].db : str('db'));
  if (!db) throw new ConfigError(`${file} [${name}]: db (connect string of this node) is not set`);
  return {
    jobName,
    queue,
    db,
    worker: str('worker_name') ?? jobName,
    nodeName: str('node_name'),
    publicLocation: str('public_node_location'),
    initialProvider: str('initial_provider_location'),
    loopDelayMs: (values.loop_delay as number) * 1000,
    localWmPublishPeriodMs: (values.local_wm_publish_period as number) * 1000,
    globalWmPublishPeriodMs: (values.global_wm_publish_period as number) * 1000,
    logfile: str('logfile'),
    pidfile: str('pidfile'),
    warnings,
    raw: values,
  };
}
