// A deployed node's config from the environment alone (no .ini), and how the task reaches other
// nodes: the stored location (no password) completed from the provider's secret.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../layers/config/settings.ts';
import { loadLondisteEnvConfig } from '../../layers/londiste/settings.ts';
import { locationOf, withCredentials } from '../../layers/londiste/task-connect.ts';

const env = {
  LONDISTE_QUEUE: 'orders_q',
  LONDISTE_NODE: 'leaf1',
  LONDISTE_NODE_TYPE: 'leaf',
  LONDISTE_PROVIDER_LOCATION: 'host=db-root port=5432 dbname=app user=londiste',
  LONDISTE_PROVIDER_SECRET_ARN: 'arn:root',
  DB_SECRET_ARN: 'arn:leaf',
  LONDISTE_JOB_NAME: 'l_leaf1',
  LONDISTE_PARALLEL_COPIES: '3',
  LONDISTE_LAUNCHER: 'ecs',
  LONDISTE_COPY_TASK_DEFINITION: 'leaf1-copy',
  LONDISTE_COPY_CLUSTER: 'skytools',
  LONDISTE_COPY_SUBNETS: 'subnet-a, subnet-b',
  LONDISTE_COPY_SECURITY_GROUPS: 'sg-1',
  LONDISTE_COPY_CONTAINER: 'londiste',
};

describe('loadLondisteEnvConfig', () => {
  it('reads the task definition environment into the config', () => {
    const cfg = loadLondisteEnvConfig(env);
    expect(cfg).toMatchObject({
      queue: 'orders_q',
      worker: 'l_leaf1',
      nodeName: 'leaf1',
      initialProvider: 'host=db-root port=5432 dbname=app user=londiste',
      parallelCopies: 3,
      configFile: '',
      db: '',
      task: {
        database_secret_arn: 'arn:leaf',
        provider_secret_arn: 'arn:root',
        node_type: 'leaf',
        metrics_period: 60,
      },
    });
    expect(cfg.londiste).toMatchObject({
      launcher: 'ecs',
      copy_cluster: 'skytools',
      copy_task_definition: 'leaf1-copy',
      copy_subnets: ['subnet-a', 'subnet-b'],
      copy_security_groups: ['sg-1'],
      copy_container: 'londiste',
    });
    expect(loadLondisteEnvConfig({ ...env, LONDISTE_LAUNCHER: undefined }).londiste.launcher).toBe('child');
  });

  it.each([
    [{ LONDISTE_QUEUE: undefined }, /LONDISTE_QUEUE is not set/],
    [{ LONDISTE_JOB_NAME: undefined }, /LONDISTE_JOB_NAME is not set/],
    [{ DB_SECRET_ARN: undefined }, /set DB_SECRET_ARN \(in AWS\) or DATABASE_URL/],
    [{ LONDISTE_LAUNCHER: 'fargate' }, /LONDISTE_LAUNCHER="fargate": expected one of: child, ecs/],
    [{ LONDISTE_NODE_TYPE: 'trunk' }, /LONDISTE_NODE_TYPE="trunk": expected one of: root, branch, leaf/],
    [{ LONDISTE_PARALLEL_COPIES: '0' }, /LONDISTE_PARALLEL_COPIES="0": must be ≥ 1/],
  ])('refuses %o', (patch, message) => {
    expect(() => loadLondisteEnvConfig({ ...env, ...patch })).toThrow(ConfigError);
    expect(() => loadLondisteEnvConfig({ ...env, ...patch })).toThrow(message);
  });

  it('takes DATABASE_URL when there is no secret (local runs, the dev stack)', () => {
    const cfg = loadLondisteEnvConfig({
      ...env,
      DB_SECRET_ARN: undefined,
      DATABASE_URL: 'postgres://h/leaf',
    });
    expect(cfg.db).toBe('postgres://h/leaf');
  });
});

describe('withCredentials / locationOf', () => {
  const secret = { user: 'app', password: 'p@ss w', ssl: { rejectUnauthorized: true } };

  it("completes a key=value location with the secret's user, password and TLS, keeping what it names", () => {
    expect(withCredentials('host=db-root dbname=app', secret)).toEqual({
      host: 'db-root',
      database: 'app',
      user: 'app',
      password: 'p@ss w',
      ssl: { rejectUnauthorized: true },
    });
    expect(withCredentials('host=db-root user=londiste sslmode=disable', secret)).toMatchObject({
      user: 'londiste',
      password: 'p@ss w',
      ssl: false,
    });
  });

  it('completes a URL location, and leaves a location alone without a secret', () => {
    const c = withCredentials('postgres://db-root:5432/app?sslmode=require', secret);
    expect(c.connectionString).toBe('postgres://app:p%40ss%20w@db-root:5432/app?sslmode=require');
    expect(c.ssl).toBeUndefined();
    expect(withCredentials('host=x', null)).toEqual({ host: 'x' });
  });

  it("writes a node's own location without its password", () => {
    expect(
      locationOf({
        host: 'db',
        port: 5432,
        database: 'app',
        user: 'u',
        password: 'secret',
        ssl: { rejectUnauthorized: true },
      }),
    ).toBe('host=db port=5432 dbname=app user=u sslmode=verify-full');
    expect(locationOf({ host: 'db', database: 'my db', user: 'u', password: 'x', ssl: false })).toBe(
      "host=db dbname='my db' user=u sslmode=disable",
    );
    expect(locationOf({ connectionString: 'postgres://u:secret@db/app' })).toBe('postgres://u@db/app');
  });
});
