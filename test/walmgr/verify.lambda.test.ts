// The wal-verify and wal-expire handlers against S3 over HTTP (fauxqs): S3 event records with
// URL-encoded keys under the repository prefix, Powertools logging, retention with dry run.
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asLogger, createObservability } from '../../layers/aws/observability.ts';
import { openStorage } from '../../layers/storage/index.ts';
import type { Storage } from '../../layers/storage/types.ts';
import { compress, sha256 } from '../../layers/walmgr/codec.ts';
import { expireOnce } from '../../layers/walmgr/lambda/expire-schedule.ts';
import { repositoryKey, verifyObjectEvents } from '../../layers/walmgr/lambda/verify-events.ts';
import { META, manifestKey } from '../../layers/walmgr/layout.ts';
import { type S3Endpoint, startS3 } from './harness.ts';

const SYS = '7300000000000000099';
const SEG = 1 << 20;
const name = (n: number) => `0000000100000000${n.toString(16).toUpperCase().padStart(8, '0')}`;

function segment(n: number): Buffer {
  const b = Buffer.alloc(SEG);
  b.writeUInt16LE(0xd116, 0);
  b.writeUInt16LE(0x0002, 2);
  b.writeUInt32LE(1, 4);
  b.writeBigUInt64LE(BigInt(n) * BigInt(SEG), 8);
  b.writeBigUInt64LE(BigInt(SYS), 24);
  b.writeUInt32LE(SEG, 32);
  b.writeUInt32LE(8192, 36);
  return b;
}

const event = (bucket: string, ...keys: string[]): S3Event =>
  ({
    Records: keys.map((key) => ({ s3: { bucket: { name: bucket }, object: { key } } })),
  }) as unknown as S3Event;

describe('wal-verify and wal-expire handlers', () => {
  let s3: S3Endpoint;
  let storage: Storage;
  const logged: { level: string; msg: string }[] = [];
  const counted: Record<string, number> = {};
  // The handlers' wiring: the runtime's Logger over Powertools, counts as metrics.
  const obs = () => {
    const o = createObservability('wal-test');
    for (const level of ['info', 'warn', 'error', 'debug'] as const)
      o.logger[level] = ((msg: string) => {
        logged.push({ level, msg });
      }) as never;
    return {
      log: asLogger(o.logger),
      count: (metric: string, n: number) => {
        counted[metric] = (counted[metric] ?? 0) + n;
      },
    };
  };
  beforeAll(async () => {
    s3 = await startS3('handlers');
    storage = await openStorage(`s3://${s3.bucket}/pg main`, {
      endpoint: s3.endpoint,
      conditionalPut: false,
    });
    for (const n of [1, 2, 3, 5]) {
      const data = segment(n);
      await storage.put(`${SYS}/wal/00000001/${name(n)}`, await compress('zstd', data), {
        metadata: { [META.sha256]: sha256(data), [META.codec]: 'zstd', [META.size]: String(SEG) },
      });
    }
  });
  afterAll(async () => {
    storage.close();
    await s3.stop();
  });

  it('maps event keys (URL-encoded, with the prefix) to repository keys', () => {
    expect(repositoryKey('pg+main/1/wal/00000001/x%3Dy', 'pg main')).toBe('1/wal/00000001/x=y');
    expect(repositoryKey('other/1/wal/x', 'pg main')).toBeNull();
    expect(repositoryKey('1/wal/x', '')).toBe('1/wal/x');
  });

  it('verifies each record, logs holes and corrupt objects, skips others', async () => {
    const deps = {
      ...obs(),
      prefix: 'pg main',
      pending: 0,
      deep: false,
      storage: async () => storage,
    };
    await storage.put(`${SYS}/wal/00000001/${name(6)}`, Buffer.from('garbage'), {
      metadata: { [META.sha256]: 'x', [META.codec]: 'none' },
    });
    const keys = [1, 2, 3, 5, 6].map((n) => `pg+main/${SYS}/wal/00000001/${name(n)}`);
    const out = await verifyObjectEvents(
      event(s3.bucket, ...keys, 'elsewhere/x', `pg+main/${SYS}/backups/b/data/PG_VERSION`).Records,
      deps,
    );
    expect(out.map((v) => v.kind)).toEqual(['wal', 'wal', 'wal', 'wal', 'wal', 'skipped']);
    expect(out[3]!.gaps).toEqual([name(4)]);
    expect(out[4]!.problems.join('\n')).toMatch(/corrupt/);
    expect(logged.filter((l) => l.level === 'warn').map((l) => l.msg)).toContain('WAL archive has holes');
    expect(logged.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([
      'WAL archive object failed verification',
    ]);
    expect(counted.WalGaps).toBeGreaterThanOrEqual(1);
    expect(counted.WalObjectProblems).toBeGreaterThanOrEqual(1);
  });

  it('expires by the configured policy, and only reports on a dry-run event', async () => {
    const m = (id: string, start: number, day: number) => ({
      format: 1,
      id,
      systemId: SYS,
      timeline: 1,
      walSegmentSize: SEG,
      startWal: name(start),
      stopWal: name(start),
      startTime: `2026-11-0${day}T00:00:00.000Z`,
      stopTime: `2026-11-0${day}T00:01:00.000Z`,
      files: [],
    });
    await storage.put(manifestKey(SYS, 'b1'), Buffer.from(JSON.stringify(m('b1', 1, 1))));
    await storage.put(manifestKey(SYS, 'b2'), Buffer.from(JSON.stringify(m('b2', 3, 2))));
    const deps = { ...obs(), policy: { keepLast: 1 }, dryRun: false, storage: async () => storage };
    const dry = await expireOnce({ dryRun: true }, deps);
    expect(dry.systems[0]).toMatchObject({ expiredBackups: ['b1'], walBoundary: name(3) });
    expect(await storage.head(manifestKey(SYS, 'b1'))).not.toBeNull();
    const res = await expireOnce(undefined, deps);
    expect(res.dryRun).toBe(false);
    expect(counted.WalBackupsExpired).toBe(1);
    expect(await storage.head(manifestKey(SYS, 'b1'))).toBeNull();
    expect((await storage.list(`${SYS}/wal/`)).map((o) => o.key.split('/').at(-1))).toEqual([
      name(3),
      name(5),
      name(6),
    ]);
  });
});
