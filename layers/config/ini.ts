// .ini config files with the original SkyTools keys ([pgqd], job sections, …). Values are strings;
// each command validates its own section against its settings table (settings.ts).
import { readFileSync } from 'node:fs';
import ini from 'ini';
import { ConfigError } from '../errors/domains.ts';

export type IniSections = Record<string, Record<string, string>>;

export function readIni(file: string): IniSections {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`, {
      kind: 'unreadable',
      cause: err,
    });
  }
  return parseIniText(text);
}

export function parseIniText(text: string): IniSections {
  const raw = ini.parse(text) as Record<string, unknown>;
  const out: IniSections = {};
  for (const [section, body] of Object.entries(raw)) {
    if (body && typeof body === 'object') {
      out[section] = Object.fromEntries(
        Object.entries(body as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
      );
    }
  }
  return out;
}
