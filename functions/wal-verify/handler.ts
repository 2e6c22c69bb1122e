// WAL archive verification Lambda, invoked by S3 object-created notifications of the archive
// bucket: wires middy, Powertools and the settings, then calls verifyObjectEvents
// (layers/walmgr/lambda/verify-events.ts). Environment: WAL_ARCHIVE_PREFIX, WAL_VERIFY_PENDING,
// WAL_VERIFY_DEEP (layers/walmgr/lambda/settings.ts).
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { S3Event } from 'aws-lambda';
import { observability, once } from '../../layers/aws/container.ts';
import { asLogger, MetricUnit, type Observability } from '../../layers/aws/observability.ts';
import { openStorage } from '../../layers/storage/index.ts';
import type { Storage } from '../../layers/storage/types.ts';
import { walVerifySettings } from '../../layers/walmgr/lambda/settings.ts';
import {
  type VerifyEventsDeps,
  verifyObjectEvents,
  verifySummary,
} from '../../layers/walmgr/lambda/verify-events.ts';

export type WalVerifyDeps = Observability & Omit<VerifyEventsDeps, 'log' | 'count'>;

export function walVerifyDeps(): WalVerifyDeps {
  return once('wal-verify', () => {
    const { prefix, pending, deep } = walVerifySettings();
    const opened = new Map<string, Promise<Storage>>();
    return {
      ...observability('wal-verify'),
      prefix,
      pending,
      deep,
      storage(bucket: string) {
        let s = opened.get(bucket);
        if (!s) {
          s = openStorage(`s3://${bucket}/${prefix}`);
          opened.set(bucket, s);
        }
        return s;
      },
    };
  });
}

export function createHandler(deps: () => WalVerifyDeps = walVerifyDeps) {
  const obs = deps();
  return middy(async (event: S3Event) => {
    const d = deps();
    const verdicts = await verifyObjectEvents(event.Records ?? [], {
      ...d,
      log: asLogger(d.logger),
      count: (metric, n) => d.metrics.addMetric(metric, MetricUnit.Count, n),
    });
    return verifySummary(verdicts);
  })
    .use(injectLambdaContext(obs.logger))
    .use(logMetrics(obs.metrics));
}

export const handler = createHandler();
