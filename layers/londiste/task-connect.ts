// How a deployed node's worker, copy job and set-up reach the databases without an .ini: this
// node's database through its secret (layers/aws/database.ts: cached, re-read on a refused login,
// i.e. after rotation), other nodes by the location stored in pgq_node (no password in it: the
// locations are readable by every node) with the password of the provider's secret.
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type pg from 'pg';
import { DatabaseSource } from '../aws/database.ts';
import { CascadeError, parseLocation, redactLocation } from '../cascade/node.ts';
import { connectClient } from '../db/connection.ts';
import type { LondisteTaskSettings } from './settings.ts';

const AUTH_FAILED = '28P01';

export interface NodeConnections {
  /** A new connection to this node's database. */
  connectLocal(applicationName: string): Promise<pg.Client>;
  /** A new connection to another node (its location as pgq_node stores it). */
  connectRemote(location: string, applicationName: string): Promise<pg.Client>;
  /** This node's location for the other nodes: host, port, dbname, user, sslmode; never the password. */
  publicLocation(): Promise<string>;
}

export function taskConnections(
  task: LondisteTaskSettings,
  deps: { secrets?: SecretsManagerClient } = {},
): NodeConnections {
  const local = new DatabaseSource(task, deps);
  const providerArn = task.provider_secret_arn;
  // The provider's secret is read as a database source of its own: same cache, TTL and re-read.
  const provider = providerArn
    ? new DatabaseSource({ ...task, database_secret_arn: providerArn, database_host: undefined }, deps)
    : null;
  return {
    connectLocal: (app) => local.connect(app),
    async connectRemote(location, app) {
      for (let attempt = 0; ; attempt++) {
        const config = withCredentials(location, provider ? await provider.config(app) : null);
        try {
          return await connectClient({
            config: { connectionTimeoutMillis: 5000, ...config },
            applicationName: app,
          });
        } catch (err) {
          if (attempt === 0 && provider && (err as { code?: string }).code === AUTH_FAILED) {
            provider.invalidate();
            continue;
          }
          throw new CascadeError(
            'unreachable',
            `cannot connect to node at ${redactLocation(location)}: ${(err as Error).message}`,
            { cause: err },
          );
        }
      }
    },
    async publicLocation() {
      return locationOf(await local.config('skytools'));
    },
  };
}

/** The location's own settings, with the secret's user, password and TLS where it names none. */
export function withCredentials(location: string, secret: pg.ClientConfig | null): pg.ClientConfig {
  const cfg = parseLocation(location);
  if (!secret) return cfg;
  if (cfg.connectionString) {
    const u = new URL(cfg.connectionString);
    if (!u.username && secret.user) u.username = encodeURIComponent(secret.user);
    if (!u.password && typeof secret.password === 'string') u.password = encodeURIComponent(secret.password);
    const out: pg.ClientConfig = { connectionString: u.toString() };
    if (!u.searchParams.has('sslmode') && secret.ssl !== undefined) out.ssl = secret.ssl;
    return out;
  }
  return {
    ...cfg,
    user: cfg.user ?? secret.user,
    password: cfg.password ?? secret.password,
    ssl: cfg.ssl ?? secret.ssl,
  };
}

/** A libpq location for a connection config (password left out). */
export function locationOf(cfg: pg.ClientConfig): string {
  if (cfg.connectionString) {
    const u = new URL(cfg.connectionString);
    u.password = '';
    return u.toString();
  }
  const q = (v: string) => (/^[^\s'\\]+$/.test(v) ? v : `'${v.replace(/[\\']/g, (c) => `\\${c}`)}'`);
  const parts: string[] = [];
  if (cfg.host) parts.push(`host=${q(cfg.host)}`);
  if (cfg.port) parts.push(`port=${cfg.port}`);
  if (cfg.database) parts.push(`dbname=${q(cfg.database)}`);
  if (cfg.user) parts.push(`user=${q(cfg.user)}`);
  if (cfg.ssl === false) parts.push('sslmode=disable');
  else if (cfg.ssl && typeof cfg.ssl === 'object' && cfg.ssl.rejectUnauthorized === false)
    parts.push('sslmode=require');
  else if (cfg.ssl) parts.push('sslmode=verify-full');
  return parts.join(' ');
}
