// walmgr's settings: one spec per setting (ini key of the original walmgr's [walmgr] section,
// environment variable, command-line flag, type, default, range), resolved once at start through
// the project's settings mechanism (layers/config/settings.ts). Precedence: flag > environment >
// .ini file (--config / WALMGR_CONFIG, section [walmgr], read by layers/config/ini.ts) > default.
// Unknown .ini keys are warnings; a bad value is an error naming where it came from.
import path from 'node:path';
import type { Command } from 'commander';
import { readIni } from '../config/ini.ts';
import { ConfigError, resolveSettings, type SettingSpec } from '../config/settings.ts';
import { CODECS, type Codec } from './codec.ts';

/** One walmgr setting: the spec plus the command-line flag that sets it. */
interface WalmgrSpec extends SettingSpec {
  flag: string;
  /** The commander attribute of the flag (camelCase). */
  attr: keyof WalmgrSettingsInput;
}

export interface WalmgrSettings {
  /** s3://bucket/prefix or a directory; required by commands that touch the repository. */
  repo?: string;
  /** Absolute data directory (default: the current directory, where archive_command runs). */
  pgdata: string;
  /** Whether the data directory was named (restore needs it named). */
  pgdataGiven: boolean;
  db?: string;
  endpoint?: string;
  region?: string;
  spool?: string;
  parallel: number;
  ahead: number;
  prefetch: number;
  compression: Codec;
  conditionalPut: boolean;
  usePartial: boolean;
  /** Deadline of one storage request, seconds. */
  timeout: number;
}

/** The flags as commander hands them over (strings), plus --config. */
export interface WalmgrSettingsInput {
  config?: string;
  repo?: string;
  pgdata?: string;
  db?: string;
  endpoint?: string;
  region?: string;
  spool?: string;
  parallel?: string;
  ahead?: string;
  prefetch?: string;
  compression?: string;
  s3ConditionalPut?: string;
  usePartial?: string | boolean;
  timeout?: string;
}

const s = (spec: WalmgrSpec) => spec;

export const WALMGR_SETTINGS: readonly WalmgrSpec[] = [
  s({
    key: 'walmgr_data',
    attr: 'repo',
    flag: '--repo <url>',
    env: 'WALMGR_REPO',
    type: 'string',
    doc: 's3://bucket/prefix or a local directory',
  }),
  s({
    key: 'master_data',
    attr: 'pgdata',
    flag: '--pgdata <dir>',
    env: 'PGDATA',
    type: 'string',
    doc: 'data directory (default: current directory, as archive_command runs there)',
  }),
  s({
    key: 'master_db',
    attr: 'db',
    flag: '--db <url>',
    env: 'DATABASE_URL',
    type: 'string',
    doc: 'postgres:// URL for backup and standby control (default: PG* variables)',
  }),
  s({
    key: 's3_endpoint',
    attr: 'endpoint',
    flag: '--endpoint <url>',
    env: 'AWS_ENDPOINT_URL',
    type: 'string',
    doc: 'S3-compatible endpoint',
  }),
  s({
    key: 's3_region',
    attr: 'region',
    flag: '--region <name>',
    env: 'AWS_REGION',
    type: 'string',
    doc: 'S3 region',
  }),
  s({
    key: 'spool_dir',
    attr: 'spool',
    flag: '--spool <dir>',
    env: 'WALMGR_SPOOL',
    type: 'string',
    doc: 'local spool (default PGDATA/pg_wal/skytools_walmgr)',
  }),
  s({
    key: 'parallel',
    attr: 'parallel',
    flag: '--parallel <n>',
    env: 'WALMGR_PARALLEL',
    type: 'integer',
    default: '4',
    min: 1,
    max: 64,
    doc: 'concurrent transfers',
  }),
  s({
    key: 'archive_ahead',
    attr: 'ahead',
    flag: '--ahead <n>',
    env: 'WALMGR_ARCHIVE_AHEAD',
    type: 'integer',
    default: '32',
    min: 0,
    max: 10000,
    doc: 'archive: also store up to n further .ready files',
  }),
  s({
    key: 'prefetch',
    attr: 'prefetch',
    flag: '--prefetch <n>',
    env: 'WALMGR_PREFETCH',
    type: 'integer',
    default: '8',
    min: 0,
    max: 1000,
    doc: 'restore-wal: segments fetched ahead',
  }),
  s({
    key: 'compression',
    attr: 'compression',
    flag: '--compression <codec>',
    env: 'WALMGR_COMPRESSION',
    type: 'string',
    default: 'zstd',
    doc: CODECS.join(' | '),
  }),
  s({
    key: 's3_conditional_put',
    attr: 's3ConditionalPut',
    flag: '--s3-conditional-put <on|off>',
    env: 'WALMGR_S3_CONDITIONAL_PUT',
    type: 'boolean',
    default: 'on',
    doc: "use If-None-Match on S3 puts; 'off' for endpoints that ignore it (then: check, then put)",
  }),
  s({
    key: 'use_partial',
    attr: 'usePartial',
    flag: '--use-partial [on|off]',
    env: 'WALMGR_USE_PARTIAL',
    type: 'boolean',
    default: 'off',
    doc: "restore-wal: serve <segment>.partial (from 'stream') for the last, unarchived segment",
  }),
  s({
    key: 'timeout',
    attr: 'timeout',
    flag: '--timeout <seconds>',
    env: 'WALMGR_TIMEOUT',
    type: 'integer',
    default: '60',
    min: 1,
    max: 3600,
    doc: 'deadline of one storage request',
  }),
];

/** The walmgr .ini file and its section; the original walmgr's keys are accepted. */
export const CONFIG_ENV = 'WALMGR_CONFIG';
export const CONFIG_SECTION = 'walmgr';

/**
 * Resolves every setting once. Throws ConfigError naming the flag, variable or file and key of a
 * bad value; returns unknown .ini keys as warnings.
 */
export function loadWalmgrSettings(
  input: WalmgrSettingsInput,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): { values: WalmgrSettings; warnings: string[] } {
  const file = input.config ?? env[CONFIG_ENV];
  const sections = file ? readIni(file) : {};
  const section = sections[CONFIG_SECTION] ?? {};
  const warnings: string[] = [];
  if (file && !sections[CONFIG_SECTION])
    warnings.push(`${file}: no [${CONFIG_SECTION}] section; nothing read from it`);
  const raw: Record<string, string | number | boolean | string[] | undefined> = {};
  for (const spec of WALMGR_SETTINGS) {
    // Resolve one setting at a time so an error names the source that gave the bad value.
    const flagValue = input[spec.attr];
    const flag = flagValue === true ? 'on' : flagValue === false || flagValue === '' ? undefined : flagValue;
    const [where, sources] =
      flag !== undefined
        ? [spec.flag.split(' ')[0]!, { flags: { [spec.key]: flag } }]
        : spec.env && env[spec.env]
          ? [`environment ${spec.env}`, { env: { [spec.env]: env[spec.env] } }]
          : section[spec.key] !== undefined
            ? [`${file} [${CONFIG_SECTION}]`, { file: { [spec.key]: section[spec.key]! } }]
            : ['default', {}];
    raw[spec.key] = resolveSettings([spec], sources, where).values[spec.key];
  }
  const known = new Set(WALMGR_SETTINGS.map((x) => x.key));
  for (const k of Object.keys(section)) {
    if (!known.has(k)) warnings.push(`${file} [${CONFIG_SECTION}]: unknown key "${k}" ignored`);
  }
  const compression = raw.compression as string;
  if (!(CODECS as readonly string[]).includes(compression)) {
    const spec = WALMGR_SETTINGS.find((x) => x.key === 'compression')!;
    const where =
      input.compression !== undefined
        ? spec.flag.split(' ')[0]
        : env[spec.env!]
          ? `environment ${spec.env}`
          : `${file} [${CONFIG_SECTION}]`;
    throw new ConfigError(
      `${where}: compression = ${JSON.stringify(compression)}: use one of ${CODECS.join(', ')}`,
    );
  }
  const str = (k: string) => {
    const v = raw[k] as string | undefined;
    return v === undefined || v === '' ? undefined : v;
  };
  const pgdata = str('master_data');
  return {
    warnings,
    values: {
      ...opt('repo', str('walmgr_data')),
      pgdata: path.resolve(cwd, pgdata ?? '.'),
      pgdataGiven: pgdata !== undefined,
      ...opt('db', str('master_db')),
      ...opt('endpoint', str('s3_endpoint')),
      ...opt('region', str('s3_region')),
      ...opt('spool', str('spool_dir')),
      parallel: raw.parallel as number,
      ahead: raw.archive_ahead as number,
      prefetch: raw.prefetch as number,
      compression: compression as Codec,
      conditionalPut: raw.s3_conditional_put as boolean,
      usePartial: raw.use_partial as boolean,
      timeout: raw.timeout as number,
    },
  };
}

function opt<K extends string>(k: K, v: string | undefined): Partial<Record<K, string>> {
  return v === undefined ? {} : ({ [k]: v } as Record<K, string>);
}

/** Registers --config and every setting's flag on the `walmgr` command (inherited by its subcommands). */
export function addWalmgrOptions(command: Command): Command {
  command.option(
    '--config <file>',
    `walmgr .ini file ([${CONFIG_SECTION}] section: walmgr_data, master_data, master_db, compression, …); env ${CONFIG_ENV}`,
  );
  for (const spec of WALMGR_SETTINGS)
    command.option(spec.flag, `${spec.doc} (env ${spec.env})${spec.default ? ` [${spec.default}]` : ''}`);
  return command;
}
