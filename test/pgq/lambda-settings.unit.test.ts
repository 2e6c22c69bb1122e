// The Lambda handlers' settings tables (layers/pgq/lambda/settings.ts on layers/aws/settings.ts):
// typed values with their defaults, parsed from the environment, and a bad value — an unknown
// DATABASE_SSL mode or ticker on_busy, malformed wake-up targets — refused when they load, naming
// the variable.
import { describe, expect, expectTypeOf, it } from 'vitest';
import { loadSettings, type SslMode } from '../../layers/aws/settings.ts';
import { ConfigError } from '../../layers/config/settings.ts';
import {
  CONSUMER_SETTINGS,
  MAINTENANCE_SETTINGS,
  TICKER_SETTINGS,
  type WakeupTarget,
} from '../../layers/pgq/lambda/settings.ts';

const DB = { DATABASE_URL: 'postgres://localhost/x' };

describe('Lambda settings', () => {
  it('the ticker table: defaults as typed values', () => {
    const s = loadSettings(TICKER_SETTINGS, DB);
    expect(s).toEqual({
      database_url: 'postgres://localhost/x',
      database_secret_ttl: 300,
      tick_period: 1,
      poll_period: 0.005,
      retry_period: 30,
      maint_period: 120,
      schedule_period: 60,
      deadline_margin: 3,
      on_busy: 'exit',
      wakeup_targets: [],
    });
    expectTypeOf(s.on_busy).toEqualTypeOf<'exit' | 'wait'>();
    expectTypeOf(s.database_ssl).toEqualTypeOf<SslMode | undefined>();
    expectTypeOf(s.wakeup_targets).toEqualTypeOf<WakeupTarget[]>();
  });

  it('the ticker table: values from the environment', () => {
    const s = loadSettings(TICKER_SETTINGS, {
      DATABASE_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:db',
      DATABASE_SSL: 'require',
      DATABASE_SECRET_TTL: '2m',
      PGQ_TICK_PERIOD: '200ms',
      PGQ_TICKER_ON_BUSY: 'wait',
      PGQ_WAKEUP_TARGETS: '[{"queue":"q","consumer":"c","queueUrl":"u","subconsumers":3}]',
    });
    expect(s).toMatchObject({
      database_ssl: 'require',
      database_secret_ttl: 120,
      tick_period: 0.2,
      on_busy: 'wait',
      wakeup_targets: [{ queue: 'q', consumer: 'c', queueUrl: 'u', subconsumers: 3 }],
    });
  });

  it('the consumer table: defaults and values', () => {
    expect(loadSettings(CONSUMER_SETTINGS, DB)).toMatchObject({ min_remaining: 10, subconsumers: 1 });
    const s = loadSettings(CONSUMER_SETTINGS, {
      ...DB,
      PGQ_QUEUE: 'orders',
      PGQ_CONSUMER: 'billing',
      PGQ_MIN_REMAINING: '500ms',
      PGQ_SUBCONSUMERS: '4',
      PGQ_DEAD_INTERVAL: '5m',
    });
    expect(s).toMatchObject({
      queue: 'orders',
      consumer: 'billing',
      min_remaining: 0.5,
      subconsumers: 4,
      dead_interval: 300,
    });
    expect(loadSettings(CONSUMER_SETTINGS, DB).dead_interval).toBeUndefined();
  });

  it('the maintenance table is the database settings alone', () => {
    expect(Object.keys(MAINTENANCE_SETTINGS.specs)).toEqual([
      'database_secret_arn',
      'database_url',
      'database_host',
      'database_ssl',
      'database_secret_ttl',
    ]);
  });

  it.each([
    [
      TICKER_SETTINGS,
      'DATABASE_SSL',
      'verify',
      /DATABASE_SSL="verify": expected one of: disable, require, verify-full/,
    ],
    [CONSUMER_SETTINGS, 'DATABASE_SSL', 'on', /DATABASE_SSL="on": expected one of/],
    [
      TICKER_SETTINGS,
      'PGQ_TICKER_ON_BUSY',
      'later',
      /PGQ_TICKER_ON_BUSY="later": expected one of: exit, wait/,
    ],
    [TICKER_SETTINGS, 'PGQ_WAKEUP_TARGETS', '{', /PGQ_WAKEUP_TARGETS="\{": PGQ_WAKEUP_TARGETS is not JSON/],
    [TICKER_SETTINGS, 'PGQ_WAKEUP_TARGETS', '[{"queue":"q"}]', /PGQ_WAKEUP_TARGETS\[0\]\.consumer must be/],
    [TICKER_SETTINGS, 'PGQ_TICK_PERIOD', '0', /PGQ_TICK_PERIOD="0": must be ≥ 0.01/],
    [CONSUMER_SETTINGS, 'PGQ_SUBCONSUMERS', '0', /PGQ_SUBCONSUMERS="0": must be ≥ 1/],
    [MAINTENANCE_SETTINGS, 'DATABASE_SECRET_TTL', 'soon', /DATABASE_SECRET_TTL="soon": expected seconds/],
  ] as const)('%#: %s=%s is refused when the settings load', (spec, env, value, message) => {
    const load = () => loadSettings(spec as typeof TICKER_SETTINGS, { ...DB, [env]: value });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message);
  });
});
