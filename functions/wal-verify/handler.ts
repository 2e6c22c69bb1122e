// WAL archive verification Lambda, invoked by S3 object-created notifications of the archive
// bucket: verifies each new WAL file / backup manifest (layers/walmgr/verify-object.ts), keeps the
// per-timeline continuity catalog, and logs + counts every problem (metrics WalObjectProblems,
// WalGaps). Findings are not errors: the invocation fails (and S3 retries it) only when the
// storage cannot be read.
// Environment: WAL_ARCHIVE_PREFIX (repository prefix in the bucket, default none),
// WAL_VERIFY_PENDING (segments that may still be in flight, default 16), WAL_VERIFY_DEEP
// ('true': read and checksum every file of a new backup).
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { S3Event } from 'aws-lambda';
import { createObservability, MetricUnit, type Observability } from '../../layers/aws/observability.ts';
import { openStorage } from '../../layers/storage/index.ts';
import type { Storage } from '../../layers/storage/types.ts';
import { type ObjectVerdict, verifyObject } from '../../layers/walmgr/verify-object.ts';

export interface WalVerifyDeps extends Observability {
  /** Storage for a bucket, rooted at the repository prefix. */
  storage(bucket: string): Promise<Storage>;
  prefix: string;
  pending: number;
  deep: boolean;
}

const cleanPrefix = (p: string | undefined) => (p ?? '').replace(/^\/+|\/+$/g, '');

let shared: WalVerifyDeps | undefined;
export function walVerifyDeps(): WalVerifyDeps {
  if (shared) return shared;
  const prefix = cleanPrefix(process.env.WAL_ARCHIVE_PREFIX);
  const opened = new Map<string, Promise<Storage>>();
  shared = {
    ...createObservability('wal-verify'),
    prefix,
    pending: Number(process.env.WAL_VERIFY_PENDING ?? 16),
    deep: process.env.WAL_VERIFY_DEEP === 'true',
    storage(bucket) {
      let s = opened.get(bucket);
      if (!s) {
        s = openStorage(`s3://${bucket}/${prefix}`);
        opened.set(bucket, s);
      }
      return s;
    },
  };
  return shared;
}

/** The repository-relative key of an event's (URL-encoded) object key, or null when outside the prefix. */
export function repositoryKey(eventKey: string, prefix: string): string | null {
  const key = decodeURIComponent(eventKey.replace(/\+/g, ' '));
  if (!prefix) return key;
  return key.startsWith(`${prefix}/`) ? key.slice(prefix.length + 1) : null;
}

export async function verifyEvent(event: S3Event, deps: WalVerifyDeps): Promise<ObjectVerdict[]> {
  const { logger, metrics } = deps;
  const out: ObjectVerdict[] = [];
  for (const r of event.Records ?? []) {
    const bucket = r.s3.bucket.name;
    const key = repositoryKey(r.s3.object.key, deps.prefix);
    if (key === null) {
      logger.debug('object outside the repository prefix', { bucket, key: r.s3.object.key });
      continue;
    }
    const storage = await deps.storage(bucket);
    const v = await verifyObject(storage, key, { pending: deps.pending, deep: deps.deep });
    out.push(v);
    if (v.kind === 'skipped') continue;
    const fields = { bucket, key, kind: v.kind, systemId: v.systemId };
    if (v.problems.length) {
      logger.error('WAL archive object failed verification', { ...fields, problems: v.problems });
      metrics.addMetric('WalObjectProblems', MetricUnit.Count, v.problems.length);
    } else logger.info(v.gone ? 'object gone before verification' : 'object verified', fields);
    if (v.gaps?.length) {
      logger.warn('WAL archive has holes', { ...fields, gaps: v.gaps.slice(0, 20), count: v.gaps.length });
    }
    if (v.gaps) metrics.addMetric('WalGaps', MetricUnit.Count, v.gaps.length);
  }
  return out;
}

export function createHandler(deps: () => WalVerifyDeps = walVerifyDeps) {
  const obs = deps();
  return middy(async (event: S3Event) => {
    const verdicts = await verifyEvent(event, deps());
    return {
      verified: verdicts.filter((v) => v.kind !== 'skipped').length,
      problems: verdicts.reduce((n, v) => n + v.problems.length, 0),
    };
  })
    .use(injectLambdaContext(obs.logger))
    .use(logMetrics(obs.metrics));
}

export const handler = createHandler();
