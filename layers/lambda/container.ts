// Per-container singletons of the handlers: settings read and validated once, the database
// source (secret cache, pool) and AWS clients reused across invocations. Created on first use,
// so importing a handler module has no side effects.
import { SQSClient } from '@aws-sdk/client-sqs';
import type { ConsumerDeps } from './consumer.ts';
import { DatabaseSource } from './database.ts';
import { asLogger, createObservability, type Observability } from './observability.ts';
import {
  CONSUMER_SETTINGS,
  loadSettings,
  MAINTENANCE_SETTINGS,
  type Settings,
  TICKER_SETTINGS,
} from './settings.ts';
import type { TickerDeps } from './ticker.ts';

let sqs: SQSClient | null = null;
const cache = new Map<string, unknown>();

/**
 * One SQS client per container. AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL (fauxqs, LocalStack) is
 * passed as an explicit endpoint so queue URLs of the emulator are not taken as endpoints.
 */
export function sqsClient(): SQSClient {
  const endpoint = process.env.AWS_ENDPOINT_URL_SQS ?? process.env.AWS_ENDPOINT_URL;
  sqs ??= new SQSClient(endpoint ? { endpoint } : {});
  return sqs;
}

function once<T>(key: string, make: () => T): T {
  if (!cache.has(key)) cache.set(key, make());
  return cache.get(key) as T;
}

export function observability(service: string): Observability {
  return once(`obs:${service}`, () => createObservability(service));
}

export function tickerDeps(): TickerDeps & Observability {
  return once('ticker', () => {
    const settings: Settings = loadSettings(TICKER_SETTINGS);
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
