// restore-wal's background prefetcher as a sliding window (restore-wal.ts `prefetchWindow`):
// a slot freed early takes the next missing segment while another is still in flight; a
// segment recovery takes is fetched again at once; a segment missing in the middle ends the
// window there (nothing past it is fetched after, the prefetcher exits, the call for it says
// "not archived"); the end of the archive writes `.prefetch.end`. Against a local repository
// behind a getter whose GETs the test holds and releases.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalStorage } from '../../layers/storage/index.ts';
import { storeWalFile } from '../../layers/walmgr/archive.ts';
import { initRepository } from '../../layers/walmgr/repository.ts';
import { prefetchWindow, restoreWal, type WalSource } from '../../layers/walmgr/restore-wal.ts';
import { parseWalName } from '../../layers/walmgr/wal.ts';
import { fakeSegment } from './fake-segment.ts';
import { tempDir, waitFor } from './harness.ts';

const SYSID = '7300000000000000002';
const SEG = 1 << 20;
const name = (n: number) => `00000001000000000000${n.toString(16).toUpperCase().padStart(4, '0')}`;

/** A getter over `storage` that logs every GET and holds those the test names until released. */
function heldGetter(storage: LocalStorage) {
  const log: string[] = [];
  const held = new Map<string, () => void>();
  const hold = new Set<string>();
  const source: WalSource = {
    description: storage.description,
    async get(key) {
      const wal = key.slice(key.lastIndexOf('/') + 1);
      log.push(`get ${wal}`);
      if (hold.has(wal)) await new Promise<void>((r) => held.set(wal, r));
      const got = await storage.get(key);
      log.push(`got ${wal}`);
      return got;
    },
  };
  return {
    source,
    log,
    hold: (wal: string) => hold.add(wal),
    release(wal: string) {
      hold.delete(wal);
      held.get(wal)?.();
      held.delete(wal);
    },
    isHeld: (wal: string) => held.has(wal),
  };
}

describe('the prefetcher is a sliding window', () => {
  let dir: string;
  let storage: LocalStorage;
  const spoolDir = () => path.join(dir, 'spool', 'restore');
  const spooled = () =>
    readdirSync(spoolDir())
      .filter((f) => /^[0-9A-F]{24}$/.test(f))
      .sort();

  beforeEach(async () => {
    dir = await tempDir('prefetch');
    storage = new LocalStorage(path.join(dir, 'repo'));
    await initRepository(storage);
    mkdirSync(path.join(dir, 'pg_wal'), { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function archive(numbers: number[]) {
    for (const n of numbers) {
      const file = path.join(dir, 'pg_wal', name(n));
      writeFileSync(file, fakeSegment(name(n), SYSID, SEG));
      await storeWalFile(storage, file, parseWalName(name(n)), SYSID, 'zstd');
    }
  }
  const opts = (source: WalSource, prefetch: number, parallel: number) => ({
    storage: async () => storage,
    getter: async () => source,
    walName: '',
    destPath: '',
    pgdata: dir,
    sysid: SYSID,
    spool: path.join(dir, 'spool'),
    prefetch,
    parallel,
  });

  it('a slot freed early takes the next missing segment while another is still in flight', async () => {
    await archive([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const g = heldGetter(storage);
    g.hold(name(2));
    const run = prefetchWindow(opts(g.source, 4, 2), name(1), SEG, 1_000);
    // 2 is held: the other slot fetched 3, then 4, then 5, without waiting for 2.
    await waitFor(async () => spooled().length === 3, 10_000, 'segments 3-5 spooled');
    expect(spooled()).toEqual([name(3), name(4), name(5)]);
    expect(g.isHeld(name(2))).toBe(true);
    // 3 is taken (recovery would take 2 first, but the window follows what is taken): the
    // window moves to 4..7, and 6 is fetched while 2 is still held.
    rmSync(path.join(spoolDir(), name(3)));
    await waitFor(async () => g.log.includes(`got ${name(6)}`), 10_000, 'segment 6 fetched');
    expect(g.isHeld(name(2))).toBe(true);
    g.release(name(2));
    await waitFor(async () => existsSync(path.join(spoolDir(), name(2))), 10_000, 'segment 2 spooled');
    // Recovery takes 2 and 4..6: the window moves to 7..10, two at a time.
    for (const n of [2, 4, 5, 6]) rmSync(path.join(spoolDir(), name(n)));
    await waitFor(async () => spooled().length === 4, 10_000, 'segments 7-10 spooled');
    expect(spooled()).toEqual([name(7), name(8), name(9), name(10)]);
    await run; // idle for 1 s: it exits
    // Every segment fetched exactly once, and each verified copy equals what was archived.
    const gets = g.log.filter((l) => l.startsWith('get ')).map((l) => l.slice(4));
    expect(gets.sort()).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10].map(name));
    expect(
      readFileSync(path.join(spoolDir(), name(7))).equals(readFileSync(path.join(dir, 'pg_wal', name(7)))),
    ).toBe(true);
    expect(existsSync(path.join(dir, 'spool/restore/.prefetch.lock'))).toBe(false);
  });

  it('a segment missing in the middle ends the window there; its call says "not archived"', async () => {
    await archive([1, 2, 3, 5, 6, 7, 8, 9]);
    const g = heldGetter(storage);
    // 5 is held until 4 was found missing, so a slot that took 5 cannot go on past it first.
    g.hold(name(5));
    const run = prefetchWindow(opts(g.source, 8, 2), name(1), SEG, 5_000);
    await waitFor(async () => g.log.includes(`got ${name(4)}`), 10_000, 'segment 4 asked for');
    g.release(name(5));
    await run;
    const gets = g.log.filter((l) => l.startsWith('get ')).map((l) => l.slice(4));
    // 2, 3 and the missing 4 (and at most what was in flight beside it) were asked for; not the rest.
    expect(gets).toContain(name(4));
    expect(gets.filter((w) => w > name(5))).toEqual([]);
    expect(spooled()).toEqual(expect.arrayContaining([name(2), name(3)]));
    expect(spooled()).not.toContain(name(4));
    expect(readFileSync(path.join(spoolDir(), '.prefetch.end'), 'utf8').trim()).toBe(name(4));
    const r = await restoreWal({
      ...opts(g.source, 0, 2),
      walName: name(4),
      destPath: 'pg_wal/RECOVERYXLOG',
    });
    expect(r.status).toBe('not-found');
  });

  it('stops at the end of the archive and says where', async () => {
    await archive([1, 2, 3]);
    const g = heldGetter(storage);
    const t0 = Date.now();
    await prefetchWindow(opts(g.source, 8, 3), name(1), SEG, 5_000);
    expect(Date.now() - t0).toBeLessThan(4_000); // not by the idle timeout
    expect(spooled()).toEqual([name(2), name(3)]);
    expect(readFileSync(path.join(spoolDir(), '.prefetch.end'), 'utf8').trim()).toBe(name(4));
  });

  it('a failing segment is not retried by the prefetcher: it ends the window for its call to report', async () => {
    await archive([1, 2, 3, 4, 5]);
    const g = heldGetter(storage);
    const failing: WalSource = {
      description: g.source.description,
      get: async (key) => {
        if (key.endsWith(name(3))) {
          g.log.push(`get ${name(3)}`);
          throw new Error('injected');
        }
        return g.source.get(key);
      },
    };
    const logs: string[] = [];
    await prefetchWindow({ ...opts(failing, 4, 1), log: (m) => logs.push(m) }, name(1), SEG, 5_000);
    expect(g.log.filter((l) => l === `get ${name(3)}`)).toHaveLength(1);
    expect(spooled()).toEqual([name(2)]);
    expect(logs.join('\n')).toMatch(/prefetch of 000000010000000000000003 failed: injected/);
    expect(existsSync(path.join(spoolDir(), '.prefetch.end'))).toBe(false);
  });
});
