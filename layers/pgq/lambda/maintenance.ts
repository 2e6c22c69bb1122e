// One maintenance invocation: move due retry events back into their queues, then run the steps
// of pgq.maint_operations() (rotation, VACUUM outside a transaction). The ticker does this too,
// once per invocation; this scheduled function runs the heavier steps with a longer timeout and
// keeps retries flowing while the ticker is paused. Two maintenance runs never overlap (their own
// advisory lock); a maintenance run beside the ticker is safe, PgQ's maint functions lock what
// they change.

import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { DatabaseSource } from '../../aws/database.ts';
import { MetricUnit, putMetric } from '../../aws/observability.ts';
import { type Logger, silentLogger } from '../../util/log.ts';
import { retryEvents, runMaintenance } from '../ticker.ts';

export const MAINT_LOCK = [0x736b7974, 0x6d61696e] as const; // 'skyt', 'main'

export interface MaintenanceResult {
  database: string;
  ran: boolean;
  retried: number;
  steps: number;
}

export async function runMaintenanceInvocation(deps: {
  db: DatabaseSource;
  log?: Logger;
  metrics?: Metrics;
}): Promise<MaintenanceResult> {
  const log = deps.log ?? silentLogger;
  const client = await deps.db.connect('skytools-maintenance');
  client.on('error', () => {}); // surfaced by the next query
  try {
    const database = (await client.query<{ d: string }>('select current_database() as d')).rows[0]!.d;
    const got = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1, $2) as ok', [
      ...MAINT_LOCK,
    ]);
    if (!got.rows[0]!.ok) {
      log.info('another maintenance run holds the database; exiting', { database });
      return { database, ran: false, retried: 0, steps: 0 };
    }
    const retried = await retryEvents(client);
    const steps = await runMaintenance(client, log);
    await client.query('select pg_advisory_unlock($1, $2)', [...MAINT_LOCK]);
    if (deps.metrics) {
      putMetric(deps.metrics, { database }, 'RetriedEventsMoved', MetricUnit.Count, retried);
      putMetric(deps.metrics, { database }, 'MaintenanceSteps', MetricUnit.Count, steps);
    }
    log.info('maintenance done', { database, retried, steps });
    return { database, ran: true, retried, steps };
  } finally {
    await client.end().catch(() => {});
  }
}
