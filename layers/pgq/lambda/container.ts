// PgQ's per-container dependencies of the handlers (ticker, maintenance, consumer): settings
// read and validated once, the database source (secret cache, pool) and the SQS client reused
// across invocations, through the per-container cache of layers/aws.
import { observability, once } from '../../aws/container.ts';
import { DatabaseSource } from '../../aws/database.ts';
import { asLogger, type Observability } from '../../aws/observability.ts';
import { type SecretStore, secretsManagerStore } from '../../aws/secrets.ts';
import { loadSettings } from '../../aws/settings.ts';
import { sqsClient } from '../../aws/sqs.ts';
import type { ConsumerDeps } from './consumer.ts';
import { CONSUMER_SETTINGS, MAINTENANCE_SETTINGS, TICKER_SETTINGS } from './settings.ts';
import type { TickerDeps } from './ticker.ts';

export function tickerDeps(): TickerDeps & Observability {
  return once('ticker', () => {
    const settings = loadSettings(TICKER_SETTINGS);
    const obs = observability('pgq-ticker');
    return {
      ...obs,
      settings,
      db: new DatabaseSource(settings),
      sqs: sqsClient(),
      log: asLogger(obs.logger),
    };
  });
}

export function maintenanceDeps(): { db: DatabaseSource; log: ReturnType<typeof asLogger> } & Observability {
  return once('maintenance', () => {
    const settings = loadSettings(MAINTENANCE_SETTINGS);
    const obs = observability('pgq-maintenance');
    return { ...obs, db: new DatabaseSource(settings), log: asLogger(obs.logger) };
  });
}

/** The admin custom resource: the master login (database settings only) and Secrets Manager for the role secrets. */
export function adminDeps(): {
  db: DatabaseSource;
  secrets: SecretStore;
  log: ReturnType<typeof asLogger>;
} & Observability {
  return once('admin', () => {
    const settings = loadSettings(MAINTENANCE_SETTINGS);
    const obs = observability('pgq-admin');
    return {
      ...obs,
      db: new DatabaseSource(settings),
      secrets: secretsManagerStore(),
      log: asLogger(obs.logger),
    };
  });
}

export function consumerDeps(): ConsumerDeps & Observability {
  // Keyed by queue/consumer so that several consumer modules in one process (local runs) keep theirs.
  return once(`consumer:${process.env.PGQ_QUEUE}/${process.env.PGQ_CONSUMER}`, () => {
    const settings = loadSettings(CONSUMER_SETTINGS);
    const obs = observability(`pgq-consumer-${settings.consumer ?? 'unnamed'}`);
    return {
      ...obs,
      settings,
      db: new DatabaseSource(settings),
      sqs: sqsClient(),
      log: asLogger(obs.logger),
    };
  });
}
