// The cascade job's .ini settings, with the original SkyTools keys (setadm / CascadedWorker), and
// the loader that turns a job section into the worker's and admin's config.
import { readIni } from '../config/ini.ts';
import { ConfigError, defineSettings, type SettingsOf, setting } from '../config/settings.ts';

export const CASCADE_SETTINGS = defineSettings('cascade', {
  job_name: setting.string({ doc: 'name of the job; also the worker (consumer) name of this node' }),
  queue_name: setting.string({ env: 'PGQ_QUEUE', aliases: ['pgq_queue_name'], doc: 'the cascaded queue' }),
  db: setting.string({
    aliases: ['node_db'],
    doc: 'connect string of this node (libpq key=value or postgres:// URL); default $DATABASE_URL',
  }),
  node_name: setting.string({ doc: "this node's name (create-* when not given on the command line)" }),
  public_node_location: setting.string({
    doc: 'connect string other nodes use to reach this node (default: db)',
  }),
  initial_provider_location: setting.string({
    doc: 'provider connect string for create-branch/leaf when --provider is not given',
  }),
  worker_name: setting.string({ doc: 'worker (consumer) name; default job_name' }),
  loop_delay: setting.seconds({ default: 1, min: 0.01, doc: 'worker sleep when idle' }),
  local_wm_publish_period: setting.seconds({
    default: 300,
    min: 0,
    doc: 'how often a node reports its watermark upstream',
  }),
  global_wm_publish_period: setting.seconds({
    default: 300,
    min: 0,
    doc: 'how often the root publishes the global watermark',
  }),
  logfile: setting.string({ doc: 'append logs here instead of stderr' }),
  pidfile: setting.string({ doc: "write the worker's pid here while it runs" }),
  use_skylog: setting.boolean({ doc: '', ignored: 'logging is configured with logfile / LOG_FORMAT' }),
});

export type CascadeSettings = SettingsOf<typeof CASCADE_SETTINGS.specs>;

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
  settings: CascadeSettings;
}

/** Reads the job section ([setadm], [cascade], else the only/first section) of a cascade .ini. */
export function loadCascadeConfig(file: string, section?: string): CascadeConfig {
  const sections = readIni(file);
  const name = section ?? ['setadm', 'cascade'].find((s) => sections[s]) ?? Object.keys(sections)[0];
  if (!name || !sections[name]) throw new ConfigError(`${file}: no [${section ?? 'setadm'}] section`);
  const { values, warnings } = CASCADE_SETTINGS.load({
    file: { path: file, section: name, values: sections[name] },
    env: process.env,
  });
  const jobName = values.job_name ?? name;
  if (!values.queue_name) throw new ConfigError(`${file} [${name}]: queue_name is not set`);
  // The file's db wins over $DATABASE_URL: one environment often runs several nodes' jobs.
  const db = values.db ?? process.env.DATABASE_URL;
  if (!db) throw new ConfigError(`${file} [${name}]: db (connect string of this node) is not set`);
  return cascadeJobConfig(values, { jobName, queue: values.queue_name, db, warnings });
}

/**
 * The job fields every cascaded job (setadm, londiste) derives from its settings the same way;
 * the caller has resolved the job name, queue and db (and their errors) by its own rules.
 */
export function cascadeJobConfig<S extends CascadeSettings>(
  values: S,
  o: { jobName: string; queue: string; db: string; warnings: string[] },
): CascadeConfig & { settings: S } {
  return {
    jobName: o.jobName,
    queue: o.queue,
    db: o.db,
    worker: values.worker_name ?? o.jobName,
    nodeName: values.node_name,
    publicLocation: values.public_node_location,
    initialProvider: values.initial_provider_location,
    loopDelayMs: values.loop_delay * 1000,
    localWmPublishPeriodMs: values.local_wm_publish_period * 1000,
    globalWmPublishPeriodMs: values.global_wm_publish_period * 1000,
    logfile: values.logfile,
    pidfile: values.pidfile,
    warnings: o.warnings,
    settings: values,
  };
}
