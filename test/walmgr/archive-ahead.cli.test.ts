// The archive backlog through archive-fast.sh as PostgreSQL's archiver runs it (oldest .ready
// first, .ready → .done after exit 0): the first call stores %f and starts the background
// `archive-ahead`, whose markers answer the following calls without Node; killed between an
// upload and its marker, nothing is reported archived and the file's own call completes it;
// a file it cannot store is reported by its own call. On a local repository, with made-up
// segments (their system id from the page header, as archive reads it without pg_control).
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalStorage } from '../../layers/storage/index.ts';
import { waitForAhead } from '../../layers/walmgr/archive.ts';
import { fileStamp, writeMarker } from '../../layers/walmgr/spool.ts';
import { fakeSegment } from './fake-segment.ts';
import { CLI, FAST_ARCHIVE, initRepo, tempDir, waitFor } from './harness.ts';

const SYSID = '7300000000000000003';
const name = (n: number) => `00000001000000000000${n.toString(16).toUpperCase().padStart(4, '0')}`;

describe('archive-ahead: the backlog stored in the background', () => {
  let dir: string;
  let pgdata: string;
  let repo: string;
  const spool = () => path.join(pgdata, 'pg_wal/skytools_walmgr');
  const status = () => path.join(pgdata, 'pg_wal/archive_status');
  const stored = async (n: number) =>
    (await new LocalStorage(repo).head(`${SYSID}/wal/00000001/${name(n)}`)) !== null;
  const marker = (n: number) => existsSync(path.join(spool(), 'archive', `${name(n)}.ok`));
  const aheadGone = async () => !existsSync(path.join(spool(), '.archive-ahead.lock'));
  /** A killed archive-ahead leaves its lock: what counts is that its pid is gone. */
  const aheadDead = async () => {
    const pid = Number(readFileSync(path.join(spool(), '.archive-ahead.lock'), 'utf8').split('\n')[0]);
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  };

  beforeEach(async () => {
    dir = await tempDir('ahead');
    pgdata = path.join(dir, 'data');
    repo = path.join(dir, 'repo');
    mkdirSync(status(), { recursive: true });
    await initRepo(repo);
  });
  afterEach(async () => {
    await waitFor(aheadGone, 20_000, 'archive-ahead to exit').catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  function backlog(numbers: number[], junk?: number) {
    for (const n of numbers) {
      const buf = fakeSegment(name(n), SYSID);
      if (n === junk) buf.writeUInt16LE(0x1234, 0); // not a WAL page
      writeFileSync(path.join(pgdata, 'pg_wal', name(n)), buf);
      writeFileSync(path.join(status(), `${name(n)}.ready`), '');
    }
  }

  /** One archive_command call as the archiver makes it; on exit 0 the file is marked done. */
  function archive(n: number, env: Record<string, string> = {}) {
    return new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        FAST_ARCHIVE,
        [`pg_wal/${name(n)}`, name(n), '--repo', repo, '--ahead', '8', '--parallel', '2'],
        { cwd: pgdata, env: { ...process.env, SKYTOOLS_NODE: process.execPath, ...env } },
        (err, _out, stderr) => {
          const code = err ? Number((err as { code?: number }).code ?? 1) : 0;
          if (code === 0)
            renameSync(path.join(status(), `${name(n)}.ready`), path.join(status(), `${name(n)}.done`));
          resolve({ code, stderr });
        },
      );
    });
  }

  it('the first call stores its file and starts archive-ahead; the next calls answer from its markers', async () => {
    backlog([1, 2, 3, 4, 5]);
    expect((await archive(1)).code).toBe(0);
    expect(await stored(1)).toBe(true);
    expect(marker(1)).toBe(false); // stored by the call itself, not ahead
    await waitFor(async () => [2, 3, 4, 5].every(marker), 30_000, 'markers for 2-5');
    for (const n of [2, 3, 4, 5]) expect(await stored(n)).toBe(true);
    // No Node for these: a "node" that fails proves the marker answered.
    for (const n of [2, 3, 4, 5]) expect((await archive(n, { SKYTOOLS_NODE: '/bin/false' })).code).toBe(0);
    expect(readdirSync(path.join(spool(), 'archive'))).toEqual([]);
    await waitFor(aheadGone, 20_000, 'archive-ahead to exit when idle');
  });

  it('killed between an upload and its marker: nothing reported, the file’s own call completes it', async () => {
    backlog([1, 2, 3]);
    // Inherited by archive-ahead, which kills itself right after its first upload.
    expect((await archive(1, { SKYTOOLS_WALMGR_FAULT: 'crash-ahead-after-upload' })).code).toBe(0);
    await waitFor(aheadDead, 20_000, 'archive-ahead killed');
    const up = [2, 3].filter((n) => existsSync(path.join(repo, SYSID, 'wal/00000001', name(n))));
    expect(up.length).toBeGreaterThan(0); // it did upload before it died
    expect([2, 3].some(marker)).toBe(false); // and reported none of it
    for (const n of [2, 3]) {
      const r = await archive(n);
      expect(r.code, r.stderr).toBe(0);
      expect(await stored(n)).toBe(true);
    }
  });

  it('a file archive-ahead cannot store is reported by its own call, the others still go ahead', async () => {
    backlog([1, 2, 3, 4], 3);
    expect((await archive(1)).code).toBe(0);
    await waitFor(
      async () => marker(2) && marker(4) && existsSync(path.join(spool(), 'archive', `${name(3)}.error`)),
      30_000,
      'markers for 2 and 4, an error note for 3',
    );
    expect((await archive(2, { SKYTOOLS_NODE: '/bin/false' })).code).toBe(0);
    const r = await archive(3);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/magic|page header|not a WAL/i);
    expect(await stored(3)).toBe(false);
    // What the background process said is kept, with its time: it has no terminal.
    const log = readFileSync(path.join(spool(), 'archive-ahead.log'), 'utf8');
    expect(log).toMatch(
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z skytools walmgr archive-ahead: archive ahead of ${name(3)} failed`,
        'm',
      ),
    );
  });

  /** A lock as a running archive-ahead holds it: a live pid (this test's) and its starter's file. */
  function fakeAhead(skip: number) {
    mkdirSync(path.join(spool(), 'archive'), { recursive: true });
    writeFileSync(path.join(spool(), '.archive-ahead.lock'), `${process.pid}\n${name(skip)}\n`);
  }
  const markLater = (n: number, ms: number) =>
    new Promise<void>((resolve) =>
      setTimeout(async () => {
        await writeMarker(spool(), name(n), fileStamp(statSync(path.join(pgdata, 'pg_wal', name(n)))), {});
        resolve();
      }, ms),
    );

  it('the bare `walmgr archive` waits for a file archive-ahead is storing instead of uploading it too', async () => {
    backlog([1, 2]);
    fakeAhead(1);
    // The marker comes while the call waits: it trusts it, so nothing is uploaded by the call
    // (the fake process never uploaded it, so the repository stays without it).
    const later = markLater(2, 700);
    const t0 = performance.now();
    const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [CLI, 'walmgr', 'archive', `pg_wal/${name(2)}`, name(2), '--repo', repo, '--ahead', '0'],
        { cwd: pgdata },
        (err, _o, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr }),
      ),
    );
    await later;
    expect(r.code, r.stderr).toBe(0);
    expect(performance.now() - t0).toBeGreaterThan(600);
    expect(await stored(2)).toBe(false);
    expect(marker(2)).toBe(false); // consumed
    rmSync(path.join(spool(), '.archive-ahead.lock'));
  });

  it('waits only while it is worth it: its own starter’s file, an error note, a dead process, the time limit', async () => {
    backlog([1, 2]);
    const walPath = path.join(pgdata, 'pg_wal', name(2));
    const quick = async (ms = 5000) => {
      const t0 = performance.now();
      const got = await waitForAhead(spool(), name(2), walPath, ms);
      return { got, ms: performance.now() - t0 };
    };
    // No archive-ahead: at once.
    expect(await quick()).toMatchObject({ got: false });
    expect((await quick()).ms).toBeLessThan(100);
    // The file its starter stores itself.
    fakeAhead(2);
    expect((await quick()).ms).toBeLessThan(100);
    // Running and storing it: the marker ends the wait, consumed.
    fakeAhead(1);
    const later = markLater(2, 300);
    const r = await quick();
    await later;
    expect(r.got).toBe(true);
    expect(r.ms).toBeGreaterThan(250);
    expect(marker(2)).toBe(false);
    // It failed there: the call stores it (or says why) itself.
    writeFileSync(path.join(spool(), 'archive', `${name(2)}.error`), 'no\n');
    expect(await quick()).toMatchObject({ got: false });
    rmSync(path.join(spool(), 'archive', `${name(2)}.error`));
    // Nothing comes: the limit.
    const slow = await quick(400);
    expect(slow.got).toBe(false);
    expect(slow.ms).toBeGreaterThan(350);
    // The process is gone (a pid no process has).
    writeFileSync(path.join(spool(), '.archive-ahead.lock'), `2147483646\n${name(1)}\n`);
    expect((await quick()).ms).toBeLessThan(100);
    rmSync(path.join(spool(), '.archive-ahead.lock'));
  });
});
