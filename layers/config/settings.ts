// One settings mechanism for every tool and entry point: a spec per setting (ini key,
// environment variable, command-line flag, type, default, range, doc) declared with the
// `setting.*` builders and grouped by `defineSettings`, which yields a typed object, validated
// once at start. Precedence: flag > environment > config file > default. An error names where
// the bad value came from (file and key, variable, or flag); unknown ini keys are warnings.
// The configuration reference (docs/configuration.md) is generated from the same specs.
import type { Command } from 'commander';
// ConfigError is part of the shared error scheme (layers/errors/); exported here as before.
import { ConfigError } from '../errors/domains.ts';

export { ConfigError };

interface CommonOptions {
  /** ini key; default: the setting's name. */
  ini?: string;
  /** Further ini keys accepted for the same setting (old names of the originals). */
  aliases?: readonly string[];
  env?: string;
  /** commander flag, e.g. '--repo <url>' or '--standby' for a boolean. */
  flag?: string;
  doc: string;
  /** Accepted for compatibility with the original, but has no effect here: say why. */
  ignored?: string;
}

interface RangeOptions {
  min?: number;
  max?: number;
}

export interface Setting<T> extends CommonOptions, RangeOptions {
  /** Shown in help and in the configuration reference. */
  readonly type: string;
  readonly defaultValue?: Exclude<T, undefined>;
  readonly choices?: readonly string[];
  /** Raw text → value; throws an Error whose message says what was expected. */
  parse(raw: string): Exclude<T, undefined>;
  /** The default as a user would write it. */
  readonly defaultText?: string;
}

type Out<T, O> = O extends { default: unknown } ? T : T | undefined;

function make<T>(
  type: string,
  parse: (raw: string) => T,
  o: CommonOptions & RangeOptions & { default?: T | string; choices?: readonly string[] },
): Setting<T> {
  const inRange = (v: T): T => {
    if (typeof v === 'number') {
      if (o.min !== undefined && v < o.min) throw new Error(`must be ≥ ${o.min}`);
      if (o.max !== undefined && v > o.max) throw new Error(`must be ≤ ${o.max}`);
    }
    return v;
  };
  const checked = (raw: string): T => inRange(parse(raw));
  let defaultValue: T | undefined;
  if (o.default !== undefined) {
    // A default is written as a user would write it (or as the value itself); parsing it here
    // proves at import time that it is valid.
    defaultValue = typeof o.default === 'string' ? checked(o.default) : inRange(o.default as T);
  }
  const { default: _d, ...rest } = o;
  return {
    ...rest,
    type,
    parse: checked as Setting<T>['parse'],
    ...(defaultValue !== undefined
      ? { defaultValue: defaultValue as Exclude<T, undefined>, defaultText: formatDefault(o.default) }
      : {}),
  };
}

function formatDefault(d: unknown): string {
  if (Array.isArray(d)) return d.join(', ');
  return String(d);
}

const TRUE = /^(1|true|yes|on)$/i;
const FALSE = /^(0|false|no|off)$/i;

/** The builders: each returns a spec whose value type follows from its options. */
export const setting = {
  string<O extends CommonOptions & { default?: string }>(o: O): Setting<Out<string, O>> {
    return make('string', (raw) => raw, o) as Setting<Out<string, O>>;
  },
  integer<O extends CommonOptions & RangeOptions & { default?: number }>(o: O): Setting<Out<number, O>> {
    return make(
      'integer',
      (raw) => {
        const n = Number(raw.trim());
        if (raw.trim() === '' || !Number.isInteger(n)) throw new Error('expected an integer');
        return n;
      },
      o,
    ) as Setting<Out<number, O>>;
  },
  number<O extends CommonOptions & RangeOptions & { default?: number }>(o: O): Setting<Out<number, O>> {
    return make(
      'number',
      (raw) => {
        const n = Number(raw.trim());
        if (raw.trim() === '' || !Number.isFinite(n)) throw new Error('expected a number');
        return n;
      },
      o,
    ) as Setting<Out<number, O>>;
  },
  /** A duration in seconds; accepts '1', '0.05', '200ms', '2s', '5m', '1h'. The value is seconds. */
  seconds<O extends CommonOptions & RangeOptions & { default?: number | string }>(
    o: O,
  ): Setting<Out<number, O>> {
    return make(
      'seconds',
      (raw) => {
        const n = parseSeconds(raw);
        if (!Number.isFinite(n)) throw new Error('expected seconds, e.g. 1, 0.05, 200ms, 2m');
        return n;
      },
      o as CommonOptions & RangeOptions & { default?: number },
    ) as Setting<Out<number, O>>;
  },
  boolean<O extends CommonOptions & { default?: boolean }>(o: O): Setting<Out<boolean, O>> {
    return make(
      'boolean',
      (raw) => {
        if (TRUE.test(raw.trim())) return true;
        if (FALSE.test(raw.trim())) return false;
        throw new Error('expected on or off (true/false, yes/no, 1/0)');
      },
      o,
    ) as Setting<Out<boolean, O>>;
  },
  /** Comma-separated names. */
  list<O extends CommonOptions & { default?: readonly string[] }>(o: O): Setting<Out<string[], O>> {
    return make(
      'list',
      (raw) =>
        raw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      o as CommonOptions & { default?: string[] },
    ) as Setting<Out<string[], O>>;
  },
  /** A size in bytes; accepts '1048576', '256k', '16M', '1G'. The value is bytes. */
  size<O extends CommonOptions & RangeOptions & { default?: number | string }>(
    o: O,
  ): Setting<Out<number, O>> {
    return make(
      'size',
      (raw) => {
        const n = parseSize(raw);
        if (!Number.isFinite(n)) throw new Error('expected a size, e.g. 16M, 256k or a number of bytes');
        return n;
      },
      o as CommonOptions & RangeOptions & { default?: number },
    ) as Setting<Out<number, O>>;
  },
  /** One of a fixed set of words. */
  choice<const C extends readonly string[], O extends CommonOptions & { default?: C[number] }>(
    choices: C,
    o: O,
  ): Setting<Out<C[number], O>> {
    return make(
      choices.join(' | '),
      (raw) => {
        const v = raw.trim();
        if (!choices.includes(v)) throw new Error(`expected one of: ${choices.join(', ')}`);
        return v as C[number];
      },
      { ...o, choices },
    ) as Setting<Out<C[number], O>>;
  },
  /** Anything else (e.g. JSON): `parse` turns the text into the value or throws saying what it expected. */
  custom<T, O extends CommonOptions & { default?: string }>(
    type: string,
    parse: (raw: string) => T,
    o: O,
  ): Setting<Out<T, O>> {
    return make(type, parse, o) as Setting<Out<T, O>>;
  },
};

/** "1", "0.05", "200ms", "2s", "5m", "1h" → seconds; NaN when it is none of these. */
export function parseSeconds(raw: string): number {
  const m = /^\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|min|h)?\s*$/.exec(raw);
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  switch (m[2]) {
    case 'ms':
      return n / 1000;
    case 'm':
    case 'min':
      return n * 60;
    case 'h':
      return n * 3600;
    default:
      return n;
  }
}

/** '16M', '256k', '1048576' → bytes; NaN when it is none of these. */
export function parseSize(raw: string): number {
  const m = /^\s*(\d+)\s*([kKmMgG]?)i?[bB]?\s*$/.exec(raw);
  if (!m) return Number.NaN;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase()] ?? 1;
  return Number(m[1]) * mult;
}

// biome-ignore lint/suspicious/noExplicitAny: a spec table holds settings of every value type
type AnySetting = Setting<any>;
export type SettingsOf<S extends Record<string, AnySetting>> = {
  [K in keyof S]: S[K] extends Setting<infer T> ? T : never;
};

/**
 * A section of an .ini file, already read (`readIni` in ini.ts): the mechanism itself reads no
 * files, so the Lambda bundles, which take their settings from the environment, carry no ini parser.
 */
export interface FileSource {
  /** For messages: where the values came from. */
  path: string;
  section: string;
  /** The section's keys (a missing section: {}). */
  values: Record<string, string>;
  /**
   * Keys of the section that others read (a Londiste handler's own keys, its load_conf): not
   * settings of this spec, yet not unknown either, so not warned about.
   */
  otherKeys?: readonly string[];
}

export interface Sources {
  file?: FileSource;
  env?: NodeJS.ProcessEnv;
  /** commander's parsed options (`cmd.optsWithGlobals()`), keyed by the flags' attribute names. */
  flags?: Record<string, unknown>;
}

export interface Loaded<V> {
  values: V;
  warnings: string[];
  /** Where each value came from: 'flag' | 'env' | 'file' | 'default' (absent: not set). */
  origin: Partial<Record<keyof V, 'flag' | 'env' | 'file' | 'default'>>;
}

export class SettingsSpec<S extends Record<string, AnySetting>> {
  /** What these settings configure, e.g. 'pgqd'; also the usual ini section. */
  readonly name: string;
  readonly specs: S;

  constructor(name: string, specs: S) {
    this.name = name;
    this.specs = specs;
  }

  /** Validates every source and returns the typed values; throws ConfigError on the first bad value. */
  load(sources: Sources = {}): Loaded<SettingsOf<S>> {
    const warnings: string[] = [];
    const file = sources.file;
    const fileWhere = file ? `${file.path} [${file.section}]` : '';
    if (file) {
      const known = new Map<string, string>();
      for (const [name, s] of Object.entries(this.specs)) {
        known.set(iniKey(name, s), name);
        for (const a of s.aliases ?? []) known.set(a, name);
      }
      const others = new Set(file.otherKeys ?? []);
      for (const k of Object.keys(file.values)) {
        if (known.has(k) || others.has(k)) continue;
        const near = closest(k, [...known.keys(), ...others]);
        warnings.push(`${fileWhere}: unknown key "${k}" ignored${near ? ` (did you mean "${near}"?)` : ''}`);
      }
    }
    const values: Record<string, unknown> = {};
    const origin: Record<string, 'flag' | 'env' | 'file' | 'default'> = {};
    for (const [name, s] of Object.entries(this.specs)) {
      const found = this.#raw(name, s, sources, file);
      if (s.ignored && found?.from === 'file') {
        warnings.push(`${fileWhere}: "${found.key}" is accepted but ignored: ${s.ignored}`);
      }
      if (!found) {
        if (s.defaultValue !== undefined) {
          values[name] = s.defaultValue;
          origin[name] = 'default';
        }
        continue;
      }
      if (typeof found.value === 'boolean' && s.type === 'boolean') {
        values[name] = found.value;
      } else {
        try {
          values[name] = s.parse(String(found.value));
        } catch (err) {
          const where =
            found.from === 'flag'
              ? `${flagName(s.flag!)} ${JSON.stringify(String(found.value))}`
              : found.from === 'env'
                ? `environment variable ${s.env}=${JSON.stringify(found.value)}`
                : `${fileWhere}: ${found.key} = ${JSON.stringify(found.value)}`;
          throw new ConfigError(`${where}: ${(err as Error).message}`);
        }
      }
      origin[name] = found.from;
    }
    return { values: values as SettingsOf<S>, warnings, origin: origin as Loaded<SettingsOf<S>>['origin'] };
  }

  #raw(
    name: string,
    s: AnySetting,
    sources: Sources,
    file: FileSource | undefined,
  ): { from: 'flag' | 'env' | 'file'; key: string; value: unknown } | undefined {
    if (s.flag && sources.flags) {
      const v = sources.flags[flagAttribute(s.flag)];
      if (v !== undefined && v !== '') return { from: 'flag', key: flagName(s.flag), value: v };
    }
    if (s.env && sources.env) {
      const v = sources.env[s.env];
      if (v !== undefined && v !== '') return { from: 'env', key: s.env, value: v };
    }
    if (file) {
      for (const key of [iniKey(name, s), ...(s.aliases ?? [])]) {
        const v = file.values[key];
        if (v !== undefined && v !== '') return { from: 'file', key, value: v };
      }
    }
    return undefined;
  }

  /** Registers every setting that has a flag on a commander command. */
  addOptions(cmd: Command): Command {
    for (const s of Object.values(this.specs)) {
      if (!s.flag || s.ignored) continue;
      const extra = [
        s.env ? `env ${s.env}` : '',
        s.defaultText !== undefined ? `default ${s.defaultText}` : '',
      ]
        .filter(Boolean)
        .join('; ');
      cmd.option(s.flag, extra ? `${s.doc} (${extra})` : s.doc);
    }
    return cmd;
  }

  /** A commented sample .ini section: every setting with its doc and default, commented out. */
  sampleIni(section = this.name): string {
    const lines = [`[${section}]`];
    for (const [name, s] of Object.entries(this.specs)) {
      if (s.ignored) continue;
      const notes = [s.doc, s.env ? `env ${s.env}` : ''].filter(Boolean).join('; ');
      lines.push(`# ${notes}`, `#${iniKey(name, s)} =${s.defaultText ? ` ${s.defaultText}` : ''}`);
    }
    return `${lines.join('\n')}\n`;
  }

  /** The Markdown table of these settings, for the configuration reference. */
  markdown(): string {
    const cell = (v: string | undefined) => (v ? v.replaceAll('|', '\\|') : '');
    const code = (v: string | undefined) => (v ? `\`${cell(v)}\`` : '');
    const rows = Object.entries(this.specs).map(([name, s]) =>
      [
        code(iniKey(name, s)) +
          (s.aliases?.length ? ` (also ${s.aliases.map((a) => code(a)).join(', ')})` : ''),
        code(s.env),
        code(s.flag ? flagName(s.flag) : undefined),
        cell(s.type) + (s.min !== undefined || s.max !== undefined ? ` ${rangeText(s)}` : ''),
        code(s.defaultText),
        cell(s.ignored ? `accepted, ignored: ${s.ignored}` : s.doc),
      ].join(' | '),
    );
    return [
      '| ini key | environment | flag | type | default | meaning |',
      '| --- | --- | --- | --- | --- | --- |',
      ...rows.map((r) => `| ${r} |`),
    ].join('\n');
  }
}

export function defineSettings<S extends Record<string, AnySetting>>(
  name: string,
  specs: S,
): SettingsSpec<S> {
  return new SettingsSpec(name, specs);
}

function rangeText(s: AnySetting): string {
  if (s.min !== undefined && s.max !== undefined) return `${s.min}…${s.max}`;
  return s.min !== undefined ? `≥ ${s.min}` : `≤ ${s.max}`;
}

function iniKey(name: string, s: AnySetting): string {
  return s.ini ?? name;
}

/** '--s3-conditional-put <on|off>' → '--s3-conditional-put'. */
function flagName(flag: string): string {
  return flag.split(/[ ,]/)[0]!;
}

/** The attribute commander stores a flag under: '--s3-conditional-put' → 's3ConditionalPut'. */
export function flagAttribute(flag: string): string {
  return flagName(flag)
    .replace(/^--(no-)?/, '')
    .replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** The known key a typo most likely meant (edit distance ≤ 2), for "did you mean". */
function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = 3;
  for (const k of known) {
    const d = editDistance(word, k);
    if (d < bestDist) {
      bestDist = d;
      best = k;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
