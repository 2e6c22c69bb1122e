// One table per command of its settings — ini key, environment variable, type, default, range —
// validated once at start. Precedence: command-line flag > environment > config file > default.
// The README's configuration reference is written from these tables.

export type SettingType = 'string' | 'seconds' | 'list' | 'boolean' | 'integer';

export interface SettingSpec {
  key: string;
  env?: string;
  type: SettingType;
  default?: string;
  min?: number;
  max?: number;
  doc: string;
  /** Accepted for compatibility with the original, but has no effect here. */
  ignored?: string;
}

export type SettingValue = string | number | boolean | string[] | undefined;

// ConfigError is part of the shared error scheme (layers/errors/); exported here as before.
import { ConfigError } from '../errors/domains.ts';

export { ConfigError };

export function resolveSettings(
  specs: readonly SettingSpec[],
  sources: {
    file?: Record<string, string>;
    env?: NodeJS.ProcessEnv;
    flags?: Record<string, string | undefined>;
  },
  where = 'config',
): { values: Record<string, SettingValue>; warnings: string[] } {
  const values: Record<string, SettingValue> = {};
  const warnings: string[] = [];
  const known = new Set(specs.map((s) => s.key));
  for (const k of Object.keys(sources.file ?? {})) {
    if (!known.has(k)) warnings.push(`${where}: unknown key "${k}" ignored`);
  }
  for (const spec of specs) {
    const raw =
      sources.flags?.[spec.key] ??
      (spec.env ? sources.env?.[spec.env] : undefined) ??
      sources.file?.[spec.key] ??
      spec.default;
    if (spec.ignored && sources.file?.[spec.key] !== undefined) {
      warnings.push(`${where}: "${spec.key}" is accepted but ignored: ${spec.ignored}`);
    }
    values[spec.key] = raw === undefined ? undefined : convert(spec, raw, where);
  }
  return { values, warnings };
}

function convert(spec: SettingSpec, raw: string, where: string): SettingValue {
  const bad = (what: string) => new ConfigError(`${where}: ${spec.key} = ${JSON.stringify(raw)}: ${what}`);
  switch (spec.type) {
    case 'string':
      return raw;
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw bad('expected a boolean (true/false)');
    case 'integer':
    case 'seconds': {
      const n = spec.type === 'seconds' ? parseSeconds(raw) : Number(raw);
      if (!Number.isFinite(n) || (spec.type === 'integer' && !Number.isInteger(n))) {
        throw bad(
          spec.type === 'seconds' ? 'expected seconds, e.g. 1, 0.05, 200ms, 2m' : 'expected an integer',
        );
      }
      if (spec.min !== undefined && n < spec.min) throw bad(`must be ≥ ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) throw bad(`must be ≤ ${spec.max}`);
      return n;
    }
  }
}

/** "1", "0.05", "200ms", "2s", "5m", "1h" → seconds. */
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

/** Markdown table of a settings table, for READMEs. */
export function settingsMarkdown(specs: readonly SettingSpec[]): string {
  const rows = specs.map(
    (s) =>
      `| \`${s.key}\` | ${s.env ? `\`${s.env}\`` : ''} | ${s.type} | ${s.default ?? ''} | ${s.ignored ? `ignored: ${s.ignored}` : s.doc} |`,
  );
  return [
    '| ini key | environment | type | default | meaning |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}
