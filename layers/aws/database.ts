// Database connections for the Lambda handlers. Credentials come from a Secrets Manager secret
// (RDS JSON shape) fetched once per container and reused until its TTL ends or a login fails
// (rotation), or from DATABASE_URL for local runs. Consumers share one small pool per container
// across invocations; the ticker opens a direct connection of its own (its advisory lock lives in
// the session, which a transaction-pooling proxy would pin or break).
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type pg from 'pg';
import { ConfigError } from '../config/settings.ts';
import { checkout, connectClient, createPool } from '../db/connection.ts';
import type { DatabaseSettings, SslMode } from './settings.ts';

interface RdsSecret {
  host?: string;
  port?: number | string;
  dbname?: string;
  username?: string;
  password?: string;
}

const AUTH_FAILED = '28P01';

export class DatabaseSource {
  readonly #settings: DatabaseSettings;
  readonly #secrets: () => Promise<SecretsManagerClient>;
  #cached: { config: pg.ClientConfig; at: number } | null = null;
  #pool: pg.Pool | null = null;
  #poolConfig: pg.ClientConfig | null = null;

  constructor(settings: DatabaseSettings, deps: { secrets?: SecretsManagerClient } = {}) {
    this.#settings = settings;
    let client = deps.secrets;
    // The SDK is loaded when a secret is first read: a process given a URL (a worker started by
    // hand, the local stack) does not pay its ~50 ms of module loading.
    this.#secrets = async () => {
      client ??= new (await secretsSdk()).SecretsManagerClient({});
      return client;
    };
    if (!settings.database_secret_arn && !settings.database_url && !process.env.PGHOST) {
      throw new ConfigError(
        'no database configured: set DATABASE_SECRET_ARN (in AWS) or DATABASE_URL (locally)',
      );
    }
  }

  /** Connection settings, from the cached secret when it is fresh. */
  async config(applicationName: string): Promise<pg.ClientConfig> {
    const ttlMs = this.#settings.database_secret_ttl * 1000;
    if (!this.#cached || Date.now() - this.#cached.at > ttlMs) {
      this.#cached = { config: await this.#load(), at: Date.now() };
    }
    return { ...this.#cached.config, application_name: applicationName };
  }

  /** Forget the cached secret (after an authentication failure). */
  invalidate(): void {
    this.#cached = null;
  }

  /** A new dedicated connection; re-reads the secret once if the login is refused. */
  async connect(applicationName: string): Promise<pg.Client> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await connectClient({ config: await this.config(applicationName) });
      } catch (err) {
        if (
          attempt === 0 &&
          (err as { code?: string }).code === AUTH_FAILED &&
          this.#settings.database_secret_arn
        ) {
          this.invalidate();
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * The container's pool (one connection: a Lambda container runs one invocation at a time),
   * created on first use and kept across invocations; rebuilt when the secret changed.
   */
  async pool(applicationName: string): Promise<pg.Pool> {
    const config = await this.config(applicationName);
    if (this.#pool && sameLogin(this.#poolConfig!, config)) return this.#pool;
    const old = this.#pool;
    this.#pool = createPool({
      config,
      max: 1,
      idleTimeoutMillis: 0,
      // An idle connection died (e.g. the database restarted); the next checkout reconnects.
      onIdleError: () => {},
    });
    this.#poolConfig = config;
    await old?.end().catch(() => {});
    return this.#pool;
  }

  /** Checks out a pooled client; on an authentication failure re-reads the secret once. */
  async pooledClient(applicationName: string): Promise<pg.PoolClient> {
    try {
      return await checkout(await this.pool(applicationName));
    } catch (err) {
      if ((err as { code?: string }).code !== AUTH_FAILED || !this.#settings.database_secret_arn) throw err;
      this.invalidate();
      return checkout(await this.pool(applicationName));
    }
  }

  async end(): Promise<void> {
    await this.#pool?.end().catch(() => {});
    this.#pool = null;
  }

  async #load(): Promise<pg.ClientConfig> {
    const s = this.#settings;
    const sslMode = s.database_ssl;
    if (s.database_secret_arn) {
      const arn = s.database_secret_arn;
      const sdk = await secretsSdk();
      const out = await (await this.#secrets()).send(new sdk.GetSecretValueCommand({ SecretId: arn }));
      let secret: RdsSecret;
      try {
        secret = JSON.parse(out.SecretString ?? '') as RdsSecret;
      } catch {
        throw new ConfigError(
          `secret ${arn} is not JSON; expected the RDS shape {host, port, dbname, username, password}`,
        );
      }
      const host = s.database_host ?? secret.host;
      if (!host || !secret.username) {
        throw new ConfigError(
          `secret ${arn} has no host or username (set DATABASE_HOST or use an RDS secret)`,
        );
      }
      return {
        host,
        port: secret.port == null ? 5432 : Number(secret.port),
        database: secret.dbname ?? 'postgres',
        user: secret.username,
        password: secret.password,
        ssl: sslOption(sslMode ?? 'verify-full'),
      };
    }
    const config: pg.ClientConfig = s.database_url ? { connectionString: s.database_url } : {};
    if (s.database_host) config.host = s.database_host;
    if (sslMode) config.ssl = sslOption(sslMode);
    return config;
  }
}

// DATABASE_SSL is a choice validated when the settings load, so every mode is one of these.
function sslOption(mode: SslMode): pg.ClientConfig['ssl'] {
  switch (mode) {
    case 'disable':
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-full':
      return { rejectUnauthorized: true };
  }
}

function sameLogin(a: pg.ClientConfig, b: pg.ClientConfig): boolean {
  return (
    a.host === b.host &&
    a.port === b.port &&
    a.user === b.user &&
    a.password === b.password &&
    a.database === b.database &&
    a.connectionString === b.connectionString
  );
}

function secretsSdk() {
  return import('@aws-sdk/client-secrets-manager');
}
