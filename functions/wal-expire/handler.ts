// WAL archive retention Lambda, invoked by a schedule: wires middy, Powertools and the settings,
// then calls expireOnce (layers/walmgr/lambda/expire-schedule.ts). Environment:
// WAL_ARCHIVE_BUCKET, WAL_ARCHIVE_PREFIX, WAL_RETENTION_KEEP_LAST, WAL_RETENTION_MAX_AGE_DAYS,
// WAL_RETENTION_DRY_RUN (layers/walmgr/lambda/settings.ts). An event `{ "dryRun": true }` forces
// a dry run for one invocation.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { observability, once } from '../../layers/aws/container.ts';
import { asLogger, MetricUnit, type Observability } from '../../layers/aws/observability.ts';
import { ConfigError } from '../../layers/config/settings.ts';
import { openStorage } from '../../layers/storage/index.ts';
import type { Storage } from '../../layers/storage/types.ts';
import { type ExpireDeps, expireOnce, expireSummary } from '../../layers/walmgr/lambda/expire-schedule.ts';
import { walExpireSettings } from '../../layers/walmgr/lambda/settings.ts';

export type WalExpireDeps = Observability & Omit<ExpireDeps, 'log' | 'count'>;

export function walExpireDeps(): WalExpireDeps {
  return once('wal-expire', () => {
    const { bucket, prefix, policy, dryRun } = walExpireSettings();
    let opened: Promise<Storage> | undefined;
    return {
      ...observability('wal-expire'),
      policy,
      dryRun,
      storage() {
        if (!bucket)
          throw new ConfigError('WAL_ARCHIVE_BUCKET is not set: name the archive bucket', {
            kind: 'missing',
          });
        opened ??= openStorage(`s3://${bucket}/${prefix}`);
        return opened;
      },
    };
  });
}

export function createHandler(deps: () => WalExpireDeps = walExpireDeps) {
  const obs = deps();
  return middy(async (event: { dryRun?: boolean } | undefined) => {
    const d = deps();
    const res = await expireOnce(event, {
      ...d,
      log: asLogger(d.logger),
      count: (metric, n) => d.metrics.addMetric(metric, MetricUnit.Count, n),
    });
    return expireSummary(res);
  })
    .use(injectLambdaContext(obs.logger))
    .use(logMetrics(obs.metrics));
}

export const handler = createHandler();
