// WAL archive retention Lambda, invoked by a schedule: expires backups beyond the policy and the
// WAL no kept backup needs (layers/walmgr/retention.ts). Environment: WAL_ARCHIVE_BUCKET,
// WAL_ARCHIVE_PREFIX (default none), WAL_RETENTION_KEEP_LAST, WAL_RETENTION_MAX_AGE_DAYS (at least
// one of the two), WAL_RETENTION_DRY_RUN ('true': report only). An event `{ "dryRun": true }`
// forces a dry run for one invocation.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { createObservability, MetricUnit, type Observability } from '../../layers/aws/observability.ts';
import { openStorage } from '../../layers/storage/index.ts';
import type { Storage } from '../../layers/storage/types.ts';
import { applyRetention, type RetentionPolicy, type RetentionResult } from '../../layers/walmgr/retention.ts';

export interface WalExpireDeps extends Observability {
  storage(): Promise<Storage>;
  policy: RetentionPolicy;
  dryRun: boolean;
}

const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));

let shared: WalExpireDeps | undefined;
export function walExpireDeps(): WalExpireDeps {
  if (shared) return shared;
  const bucket = process.env.WAL_ARCHIVE_BUCKET;
  const prefix = (process.env.WAL_ARCHIVE_PREFIX ?? '').replace(/^\/+|\/+$/g, '');
  let opened: Promise<Storage> | undefined;
  shared = {
    ...createObservability('wal-expire'),
    policy: {
      keepLast: num(process.env.WAL_RETENTION_KEEP_LAST),
      maxAgeDays: num(process.env.WAL_RETENTION_MAX_AGE_DAYS),
    },
    dryRun: process.env.WAL_RETENTION_DRY_RUN === 'true',
    storage() {
      if (!bucket) throw new Error('WAL_ARCHIVE_BUCKET is not set: name the archive bucket');
      opened ??= openStorage(`s3://${bucket}/${prefix}`);
      return opened;
    },
  };
  return shared;
}

export async function expireOnce(
  event: { dryRun?: boolean } | undefined,
  deps: WalExpireDeps,
): Promise<RetentionResult> {
  const { logger, metrics } = deps;
  const res = await applyRetention({
    storage: await deps.storage(),
    policy: deps.policy,
    dryRun: deps.dryRun || event?.dryRun === true,
    log: (msg, fields) => logger.info(msg, fields ?? {}),
  });
  for (const s of res.systems) {
    logger.info(res.dryRun ? 'retention plan (dry run)' : 'retention applied', {
      systemId: s.systemId,
      kept: s.keptBackups,
      expired: s.expiredBackups,
      incomplete: s.incompleteBackups,
      walBoundary: s.walBoundary,
      walExpired: s.expiredWal.length,
      objects: s.deletedObjects,
    });
    if (!res.dryRun) {
      metrics.addMetric('WalBackupsExpired', MetricUnit.Count, s.expiredBackups.length);
      metrics.addMetric('WalFilesExpired', MetricUnit.Count, s.expiredWal.length);
    }
  }
  return res;
}

export function createHandler(deps: () => WalExpireDeps = walExpireDeps) {
  const obs = deps();
  return middy(async (event: { dryRun?: boolean } | undefined) => {
    const res = await expireOnce(event, deps());
    return {
      dryRun: res.dryRun,
      systems: res.systems.map((s) => ({
        systemId: s.systemId,
        expiredBackups: s.expiredBackups,
        walFilesExpired: s.expiredWal.length,
      })),
    };
  })
    .use(injectLambdaContext(obs.logger))
    .use(logMetrics(obs.metrics));
}

export const handler = createHandler();
