// restore-wal's segments read without the AWS SDK (layers/storage/s3-get.ts through
// `openGetter`), against fauxqs and against local HTTP endpoints that misbehave: a fetched
// segment is verified and written, a missing one is "not archived" only after the marker check
// (the one request that goes through the full storage), a corrupted or impostor object stops
// recovery, the prefetch uses the same getter, and the CLI loads no @aws-sdk module for a hit.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ObjectGetter, openGetter, openStorage } from '../../layers/storage/index.ts';
import { S3Storage } from '../../layers/storage/s3.ts';
import { openS3Getter } from '../../layers/storage/s3-get.ts';
import type { Storage } from '../../layers/storage/types.ts';
import { storeWalFile } from '../../layers/walmgr/archive.ts';
import { restoreWal } from '../../layers/walmgr/restore-wal.ts';
import { parseWalName } from '../../layers/walmgr/wal.ts';
import { fakeS3, type S3Handler } from '../support/s3-endpoint.ts';
import { fakeSegment } from './fake-segment.ts';
import { initRepo, type S3Endpoint, s3Env, startS3, tempDir, walmgr } from './harness.ts';

const SYSID = '7300000000000000001';
const SEG = 1 << 20;

const segment = (name: string) => fakeSegment(name, SYSID, SEG);

const NAMES = ['000000010000000000000003', '000000010000000000000004', '000000010000000000000005'];

describe('restore-wal over the SDK-less getter', () => {
  let s3: S3Endpoint;
  let storage: Storage;
  let getter: ObjectGetter;
  let dir: string;
  const repo = () => `s3://${s3.bucket}/direct`;
  const data = new Map(NAMES.map((n) => [n, segment(n)]));
  /** The full storage, failing any segment GET: those must go through the getter. */
  const missOnly = (): Storage => ({
    ...storage,
    description: storage.description,
    atomicIfAbsent: storage.atomicIfAbsent,
    head: (k) => storage.head(k),
    list: (p) => storage.list(p),
    get: async (k) => {
      throw new Error(`full storage used for GET ${k}`);
    },
  });
  const opts = (walName: string, destPath: string, prefetch = 0) => ({
    storage: async () => missOnly(),
    getter: async () => getter,
    walName,
    destPath,
    pgdata: dir,
    sysid: SYSID,
    spool: path.join(dir, 'spool'),
    prefetch,
    parallel: 2,
    inlinePrefetch: true,
  });

  beforeAll(async () => {
    s3 = await startS3('walmgr-direct');
    await initRepo(repo(), s3.endpoint);
    storage = await openStorage(repo(), { endpoint: s3.endpoint, conditionalPut: false });
    getter = await openGetter(repo(), { endpoint: s3.endpoint, conditionalPut: false });
    dir = await tempDir('direct');
    mkdirSync(path.join(dir, 'pg_wal'), { recursive: true });
    for (const [name, buf] of data) {
      const file = path.join(dir, 'pg_wal', name);
      writeFileSync(file, buf);
      await storeWalFile(storage, file, parseWalName(name), SYSID, 'zstd');
    }
  });

  afterAll(async () => {
    getter?.close();
    storage?.close();
    await s3?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is not the SDK client when the credentials are in the environment, and returns the metadata', async () => {
    expect(getter).not.toBeInstanceOf(S3Storage);
    const key = `${SYSID}/wal/00000001/${NAMES[0]}`;
    const mine = (await getter.get(key))!;
    const sdk = (await storage.get(key))!;
    expect(mine.body.equals(sdk.body)).toBe(true);
    expect(mine.info.metadata).toEqual(sdk.info.metadata);
    expect(mine.info.size).toBe(sdk.body.length);
    expect(await getter.get(`${SYSID}/wal/00000001/0000000100000000000000FF`)).toBeNull();
  });

  it('restores a fetched segment verified, and prefetches the next through the getter', async () => {
    const r = await restoreWal(opts(NAMES[0]!, 'pg_wal/RESTORED', 2));
    expect(r.status).toBe('restored');
    expect(readFileSync(path.join(dir, 'pg_wal/RESTORED')).equals(data.get(NAMES[0]!)!)).toBe(true);
    for (const n of NAMES.slice(1))
      expect(readFileSync(path.join(dir, 'spool/restore', n)).equals(data.get(n)!)).toBe(true);
  });

  it('answers "not archived" for a missing segment only after the marker check', async () => {
    expect((await restoreWal(opts('000000010000000000000009', 'pg_wal/MISSING'))).status).toBe('not-found');
    // Without the marker the same miss is an error (exit 126), never "not archived".
    const bare = { ...missOnly(), head: async () => null };
    await expect(
      restoreWal({ ...opts('000000010000000000000009', 'pg_wal/MISSING'), storage: async () => bare }),
    ).rejects.toThrow(/not an initialised walmgr repository/);
  });

  it('stops recovery on a corrupted object and on another segment stored under the name', async () => {
    // Prefetched by the test above: served from the spool, it would not be fetched again.
    rmSync(path.join(dir, 'spool/restore'), { recursive: true, force: true });
    const key = `${SYSID}/wal/00000001/${NAMES[2]}`;
    const orig = (await storage.get(key))!;
    const flipped = Buffer.from(orig.body);
    flipped[flipped.length >> 1]! ^= 0x10;
    await storage.put(key, flipped, { metadata: orig.info.metadata });
    await expect(restoreWal(opts(NAMES[2]!, 'pg_wal/BAD'))).rejects.toMatchObject({ kind: 'corrupt' });
    const other = (await storage.get(`${SYSID}/wal/00000001/${NAMES[1]}`))!;
    await storage.put(key, other.body, { metadata: other.info.metadata });
    await expect(restoreWal(opts(NAMES[2]!, 'pg_wal/BAD'))).rejects.toThrow(/does not match the name/);
    await storage.put(key, Buffer.from('junk'), { metadata: {} });
    await expect(restoreWal(opts(NAMES[2]!, 'pg_wal/BAD'))).rejects.toThrow(/not written by walmgr archive/);
  });

  it('the CLI restores a segment without loading any @aws-sdk module', async () => {
    // A resolve hook that reports every @aws-sdk module the process loads.
    const hook = path.join(dir, 'report-sdk.mjs');
    writeFileSync(
      hook,
      `import { registerHooks } from 'node:module';
registerHooks({ resolve(s, c, next) { const r = next(s, c); if (r.url.includes('@aws-sdk')) process.stderr.write('SDK-LOADED ' + r.url + '\\n'); return r; } });\n`,
    );
    mkdirSync(path.join(dir, 'global'), { recursive: true });
    // restore-wal reads the system id from pg_control (offset 0, little-endian).
    const control = Buffer.alloc(8192);
    control.writeBigUInt64LE(BigInt(SYSID), 0);
    writeFileSync(path.join(dir, 'global/pg_control'), control);
    const flags = ['--repo', repo(), '--endpoint', s3.endpoint, '--pgdata', dir, '--prefetch', '0'];
    const env = { NODE_OPTIONS: `--import ${hook}` };
    const hit = await walmgr(['restore-wal', NAMES[1]!, 'pg_wal/CLI', ...flags], { env });
    expect(hit.code, hit.stderr).toBe(0);
    expect(hit.stderr).not.toContain('SDK-LOADED');
    expect(readFileSync(path.join(dir, 'pg_wal/CLI')).equals(data.get(NAMES[1]!)!)).toBe(true);
    // A miss checks the repository marker: without the SDK too (s3-direct.ts).
    const miss = await walmgr(['restore-wal', '00000002.history', 'pg_wal/H', ...flags], { env });
    expect(miss.code, miss.stderr).toBe(1);
    expect(miss.stderr).not.toContain('SDK-LOADED');
    // The hook works: with the credentials in a profile file, the SDK client is what reads.
    const profile = path.join(dir, 'aws-credentials');
    writeFileSync(
      profile,
      `[default]\naws_access_key_id = ${s3Env().AWS_ACCESS_KEY_ID}\naws_secret_access_key = ${s3Env().AWS_SECRET_ACCESS_KEY}\n`,
    );
    const viaSdk = await walmgr(['restore-wal', NAMES[1]!, 'pg_wal/SDK', ...flags], {
      env: { ...env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SHARED_CREDENTIALS_FILE: profile },
    });
    expect(viaSdk.code, viaSdk.stderr).toBe(0);
    expect(viaSdk.stderr).toContain('SDK-LOADED');
    expect(readFileSync(path.join(dir, 'pg_wal/SDK')).equals(data.get(NAMES[1]!)!)).toBe(true);
  });
});

/** The endpoint, with a session token in the credentials (temporary credentials are signed with it). */
const endpoint = (handler: S3Handler) =>
  fakeS3(handler, { accessKeyId: 'k', secretAccessKey: 's', sessionToken: 't' });

describe('SDK-less S3 GET (s3-get.ts)', () => {
  it('signs, sends the session token, reads the metadata, retries 5xx and fails 403 at once', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const { spec, close } = await endpoint((req, res, n) => {
      seen.push(req.headers);
      if (req.url === '/b/p/flaky' && n <= 2) res.writeHead(503).end('<Error><Code>SlowDown</Code></Error>');
      else if (req.url === '/b/p/flaky')
        res
          .writeHead(200, { 'content-length': 2, 'x-amz-meta-sha256': 'abc', 'x-amz-meta-codec': 'zstd' })
          .end('ok');
      else if (req.url === '/b/p/gone') res.writeHead(404).end();
      else res.writeHead(403).end('<Error><Code>AccessDenied</Code><Message>no</Message></Error>');
    });
    const g = openS3Getter(spec);
    try {
      const r = (await g.get('flaky'))!;
      expect(r.body.toString()).toBe('ok');
      expect(r.info).toMatchObject({ key: 'flaky', size: 2, metadata: { sha256: 'abc', codec: 'zstd' } });
      expect(seen[0]!.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=k\/\d{8}\/us-east-1\/s3\/aws4_request/,
      );
      expect(seen[0]!['x-amz-security-token']).toBe('t');
      expect(await g.get('gone')).toBeNull();
      await expect(g.get('denied')).rejects.toThrow(/GET denied on s3:\/\/b\/p.*AccessDenied \(HTTP 403\)/);
    } finally {
      g.close();
      await close();
    }
  });

  it('runs at most maxSockets GETs at once over kept-alive connections, each body its own', async () => {
    let now = 0;
    let most = 0;
    const sockets = new Set<unknown>();
    const { spec, close } = await endpoint((req, res) => {
      sockets.add(req.socket);
      now++;
      most = Math.max(most, now);
      const body = Buffer.alloc(100_000, req.url!.slice(-1));
      setTimeout(() => {
        now--;
        res.writeHead(200, { 'content-length': body.length }).end(body);
      }, 30);
    });
    const g = openS3Getter(spec, 2);
    try {
      const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
      const got = await Promise.all(keys.map((k) => g.get(k)));
      got.forEach((r, i) => {
        expect(r!.body.length).toBe(100_000);
        expect(r!.body.every((b) => b === keys[i]!.charCodeAt(0))).toBe(true);
      });
      expect(most).toBe(2);
      expect(sockets.size).toBe(2);
    } finally {
      g.close();
      await close();
    }
  });

  it('fails as "timed out" when the endpoint stalls before the headers or mid-body', async () => {
    const { spec, close } = await endpoint((req, res) => {
      if (req.url!.endsWith('/mid')) {
        res.writeHead(200, { 'content-length': 100 });
        res.write('only a part');
      }
    });
    const g = openS3Getter(spec);
    try {
      await expect(g.get('silent')).rejects.toThrow(/timed out/);
      await expect(g.get('mid')).rejects.toThrow(/timed out/);
    } finally {
      g.close();
      await close();
    }
  });
});
