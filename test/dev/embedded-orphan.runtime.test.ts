// An embedded server whose owner dies without stopping it (SIGKILL here; EPIPE from `npm test |
// head`, a crash) is stopped by its watchdog, and a throw-away one's data directory removed; a
// server stopped the normal way leaves no watchdog behind.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbedded } from '../../layers/dev/embedded.ts';
import { processAlive } from '../../layers/util/pidfile.ts';

async function until(what: string, ok: () => boolean, ms = 20_000) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const postmaster = (dataDir: string) =>
  Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);

/** Processes whose environment names postmaster `pm` as the one to watch (the watchdog, its `sleep`). */
function watchdogsOf(pm: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/environ`, 'latin1').split('\0').includes(`PM=${pm}`)) out.push(Number(e));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

describe('embedded server watchdog', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skytools-orphan-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stops the server of a process killed with SIGKILL and removes a throw-away data directory', async () => {
    const dataDir = path.join(dir, 'data');
    const owner = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { startEmbedded } = await import(${JSON.stringify(path.resolve('layers/dev/embedded.ts'))});
         await startEmbedded({ dataDir: ${JSON.stringify(dataDir)}, persistent: false, settings: { fsync: 'off' } });
         console.log('up'); setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      owner.stdout!.on('data', (d: Buffer) => d.toString().includes('up') && resolve());
      owner.once('exit', (code) => reject(new Error(`owner exited early (${code})`)));
    });
    const pm = postmaster(dataDir);
    expect(processAlive(pm)).toBe(true);
    owner.kill('SIGKILL');
    await until('the postmaster to stop', () => !processAlive(pm));
    await until('the data directory to go', () => !existsSync(dataDir));
  }, 60_000);

  it('a server stopped normally leaves no watchdog running', async () => {
    const dataDir = path.join(dir, 'data2');
    const s = await startEmbedded({ dataDir, persistent: true, settings: { fsync: 'off' } });
    const pm = postmaster(dataDir);
    // The shell, and its `sleep` when it is asleep (which inherits the environment).
    expect(watchdogsOf(pm).length).toBeGreaterThan(0);
    await s.stop();
    expect(processAlive(pm)).toBe(false);
    // The watchdog (killed by stop()) is the one process with this postmaster's pid as PM.
    await new Promise((r) => setTimeout(r, 200));
    expect(watchdogsOf(pm)).toEqual([]);
    expect(existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true); // persistent: kept
  }, 60_000);
});
