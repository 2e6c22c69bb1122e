// wal-verify's work: each object an S3 notification names is verified (verify-object.ts), which
// also keeps the per-timeline continuity catalog; problems and holes are logged and counted.
// Findings are results, not errors: only storage failures throw (so S3 retries the event).
import type { Storage } from '../../storage/types.ts';
import type { Logger } from '../../util/log.ts';
import { type ObjectVerdict, verifyObject } from '../verify-object.ts';

export interface ObjectCreatedRecord {
  s3: { bucket: { name: string }; object: { key: string } };
}

export interface VerifyEventsDeps {
  /** Storage for a bucket, rooted at the repository prefix. */
  storage(bucket: string): Promise<Storage>;
  prefix: string;
  pending: number;
  deep: boolean;
  log: Logger;
  /** Adds to a count metric (WalObjectProblems, WalGaps). */
  count(metric: string, n: number): void;
}

/** The repository-relative key of an event's (URL-encoded) object key, or null when outside the prefix. */
export function repositoryKey(eventKey: string, prefix: string): string | null {
  const key = decodeURIComponent(eventKey.replace(/\+/g, ' '));
  if (!prefix) return key;
  return key.startsWith(`${prefix}/`) ? key.slice(prefix.length + 1) : null;
}

export async function verifyObjectEvents(
  records: readonly ObjectCreatedRecord[],
  deps: VerifyEventsDeps,
): Promise<ObjectVerdict[]> {
  const { log } = deps;
  const out: ObjectVerdict[] = [];
  for (const r of records) {
    const bucket = r.s3.bucket.name;
    const key = repositoryKey(r.s3.object.key, deps.prefix);
    if (key === null) {
      log.debug('object outside the repository prefix', { bucket, key: r.s3.object.key });
      continue;
    }
    const storage = await deps.storage(bucket);
    const v = await verifyObject(storage, key, { pending: deps.pending, deep: deps.deep });
    out.push(v);
    if (v.kind === 'skipped') continue;
    const fields = { bucket, key, kind: v.kind, systemId: v.systemId };
    if (v.problems.length) {
      log.error('WAL archive object failed verification', { ...fields, problems: v.problems });
      deps.count('WalObjectProblems', v.problems.length);
    } else log.info(v.gone ? 'object gone before verification' : 'object verified', fields);
    if (v.gaps?.length) {
      log.warn('WAL archive has holes', { ...fields, gaps: v.gaps.slice(0, 20), count: v.gaps.length });
    }
    if (v.gaps) deps.count('WalGaps', v.gaps.length);
  }
  return out;
}

/** What the invocation returns. */
export function verifySummary(verdicts: readonly ObjectVerdict[]) {
  return {
    verified: verdicts.filter((v) => v.kind !== 'skipped').length,
    problems: verdicts.reduce((n, v) => n + v.problems.length, 0),
  };
}
