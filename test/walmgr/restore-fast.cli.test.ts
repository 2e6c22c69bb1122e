// restore-fast.sh, the restore_command `walmgr restore` writes, on its own: a prefetched segment
// is moved into place without starting Node; one a running (or starting) prefetcher has not
// delivered yet is waited for in the shell; a miss with no prefetcher goes to restore-wal; no
// prefetcher is started right after one stopped at the end of the archive. SKYTOOLS_NODE is a
// stand-in that records each start and exits 7, so every Node start shows.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './harness.ts';

const FAST = path.join(ROOT, 'layers/walmgr/restore-fast.sh');
const SEG = '000000010000000000000010';

describe('restore-fast.sh', () => {
  let dir: string;
  let spool: string;
  let starts: string;

  beforeEach(async () => {
    dir = await tempDir('restore-fast');
    spool = path.join(dir, 'spool');
    mkdirSync(path.join(spool, 'restore'), { recursive: true });
    starts = path.join(dir, 'starts.log');
    writeFileSync(path.join(dir, 'node'), `#!/bin/sh\necho "$*" >> ${starts}\nexit 7\n`);
    chmodSync(path.join(dir, 'node'), 0o755);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (f = SEG) =>
    new Promise<{ code: number; ms: number }>((resolve) => {
      const t0 = Date.now();
      const p = spawn(FAST, [f, path.join(dir, 'RESTORED'), '--repo', '/nowhere', '--spool', spool], {
        cwd: dir,
        env: { ...process.env, SKYTOOLS_NODE: path.join(dir, 'node') },
        stdio: 'ignore',
      });
      p.on('close', (code) => resolve({ code: code ?? -1, ms: Date.now() - t0 }));
    });
  // (the file may exist before the fake node has written its line: no empty entry then)
  const nodeStarts = () =>
    existsSync(starts) ? readFileSync(starts, 'utf8').trim().split('\n').filter(Boolean) : [];
  /** Eight more segments spooled: a full window, so no prefetcher is started. */
  const fullWindow = () => {
    for (let i = 1; i <= 8; i++)
      writeFileSync(
        path.join(spool, 'restore', `0000000100000000000000${(16 + i).toString(16).toUpperCase()}`),
        'w',
      );
  };

  it('moves a prefetched segment into place without starting Node', async () => {
    writeFileSync(path.join(spool, 'restore', SEG), 'segment');
    fullWindow();
    expect((await run()).code).toBe(0);
    expect(readFileSync(path.join(dir, 'RESTORED'), 'utf8')).toBe('segment');
    expect(existsSync(path.join(spool, 'restore', SEG))).toBe(false);
    expect(nodeStarts()).toEqual([]);
  });

  it('waits in the shell for a segment a running prefetcher is still fetching', async () => {
    // The lock names a live process (this one), as a running prefetcher's does.
    writeFileSync(path.join(spool, 'restore', '.prefetch.lock'), `${process.pid}\n`);
    fullWindow();
    setTimeout(() => writeFileSync(path.join(spool, 'restore', SEG), 'late'), 400);
    const r = await run();
    expect(r.code).toBe(0);
    expect(r.ms).toBeGreaterThanOrEqual(350);
    expect(readFileSync(path.join(dir, 'RESTORED'), 'utf8')).toBe('late');
    expect(nodeStarts()).toEqual([]);
  });

  it("goes to restore-wal for a miss when no prefetcher runs (a dead one's lock does not count)", async () => {
    writeFileSync(path.join(spool, 'restore', '.prefetch.lock'), '2147483646\n');
    const r = await run();
    expect(r.code).toBe(7);
    expect(r.ms).toBeLessThan(2000);
    expect(nodeStarts()).toEqual([expect.stringMatching(/walmgr restore-wal 000000010000000000000010 /)]);
    // A history file is never waited for, even with a prefetcher at work.
    writeFileSync(path.join(spool, 'restore', '.prefetch.lock'), `${process.pid}\n`);
    expect((await run('00000002.history')).code).toBe(7);
  });

  it('starts a prefetcher when the window runs short, but not right after one found the end', async () => {
    writeFileSync(path.join(spool, 'restore', SEG), 'segment');
    writeFileSync(path.join(spool, 'restore', '.prefetch.end'), '000000010000000000000012\n');
    expect((await run()).code).toBe(0);
    await new Promise((r) => setTimeout(r, 300)); // the prefetcher is started in the background
    expect(nodeStarts()).toEqual([]);
    // Once the note is older than 5 s, the next short window starts one (and notes it starting).
    const old = new Date(Date.now() - 10_000);
    utimesSync(path.join(spool, 'restore', '.prefetch.end'), old, old);
    writeFileSync(path.join(spool, 'restore', SEG), 'segment');
    expect((await run()).code).toBe(0);
    for (let i = 0; i < 50 && nodeStarts().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(nodeStarts()).toEqual([
      expect.stringMatching(/walmgr restore-prefetch 000000010000000000000010 7 /),
    ]);
    expect(existsSync(path.join(spool, 'restore', '.prefetch.starting'))).toBe(true);
  });
});
