// Connection strings as the originals take them: libpq "key=value key='quoted value'" (pgqd's
// base_connstr, python's db = ...) or a postgres:// URL. Turned into a pg ClientConfig.
import type pg from 'pg';
import { ConfigError } from '../errors/domains.ts';

const KEYS: Record<string, keyof pg.ClientConfig | 'sslmode' | null> = {
  host: 'host',
  hostaddr: 'host',
  port: 'port',
  user: 'user',
  password: 'password',
  dbname: 'database',
  application_name: 'application_name',
  connect_timeout: 'connectionTimeoutMillis',
  sslmode: 'sslmode',
  options: 'options',
};

export function parseConnstr(connstr: string): pg.ClientConfig {
  const s = connstr.trim();
  if (s === '') return {};
  if (/^postgres(ql)?:\/\//.test(s)) return { connectionString: s };
  const out: Record<string, unknown> = {};
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length) break;
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new ConfigError(`bad connection string near "${s.slice(i)}": expected key=value`);
    const key = s.slice(i, eq).trim();
    i = eq + 1;
    while (i < s.length && /\s/.test(s[i]!)) i++;
    let value = '';
    if (s[i] === "'") {
      i++;
      while (i < s.length && s[i] !== "'") {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        value += s[i++];
      }
      if (s[i] !== "'")
        throw new ConfigError(`bad connection string: unterminated quote in value of "${key}"`);
      i++;
    } else {
      while (i < s.length && !/\s/.test(s[i]!)) {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        value += s[i++];
      }
    }
    if (!(key in KEYS)) throw new ConfigError(`unsupported connection string keyword "${key}"`);
    const target = KEYS[key]!;
    if (target === 'port') out.port = Number(value);
    else if (target === 'connectionTimeoutMillis') out.connectionTimeoutMillis = Number(value) * 1000;
    else if (target === 'sslmode') {
      if (value === 'disable') out.ssl = false;
      else if (value === 'require' || value === 'prefer') out.ssl = { rejectUnauthorized: false };
      else out.ssl = true; // verify-ca / verify-full
    } else out[target] = value;
  }
  return out as pg.ClientConfig;
}

/** The same connection with another database name. */
export function withDatabaseName(cfg: pg.ClientConfig, database: string): pg.ClientConfig {
  if (cfg.connectionString) {
    const u = new URL(cfg.connectionString);
    u.pathname = `/${encodeURIComponent(database)}`;
    return { ...cfg, connectionString: u.toString() };
  }
  return { ...cfg, database };
}
