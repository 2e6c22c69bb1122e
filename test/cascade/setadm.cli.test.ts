// `skytools setadm <ini> <command>` end to end: create-root/branch/leaf from .ini files with the
// original keys, `worker` processes per node, status/members output, errors with a clear message.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tickOnce } from '../../layers/pgq/ticker.ts';
import { connectUrl, Producer, queueEvents, range, useCluster, waitUntil } from './cluster.ts';

const cli = path.resolve(import.meta.dirname, '../../bin/skytools.ts');
const dir = mkdtempSync(path.join(os.tmpdir(), 'cascade-cli-'));
const s = useCluster(['root', 'mid', 'tip']);
const procs: ChildProcess[] = [];

function ini(node: string): string {
  const file = path.join(dir, `${node}.ini`);
  writeFileSync(
    file,
    [
      '[setadm]',
      `job_name = ${node}_worker`,
      'queue_name = cq',
      `db = ${s.c.nodes[node]!.url}`,
      `node_name = ${node}`,
      'loop_delay = 0.1',
      'local_wm_publish_period = 1',
      'global_wm_publish_period = 1',
      '',
    ].join('\n'),
  );
  return file;
}

function run(node: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, 'setadm', ini(node), ...args],
      { encoding: 'utf8', timeout: 60_000 },
      (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });
}

// Registered after useCluster, so it runs first: the workers stop before their databases go.
afterAll(async () => {
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(
    procs.map((p) => new Promise((r) => (p.exitCode === null ? p.once('exit', r) : r(null)))),
  );
  rmSync(dir, { recursive: true, force: true });
});

describe('skytools setadm CLI', () => {
  it('refuses to start a second worker while the pidfile names a live process', async () => {
    const pidfile = path.join(dir, 'root.pid');
    // A live process holds it: this test runner.
    writeFileSync(pidfile, `${process.pid}\n`);
    const file = path.join(dir, 'root-pid.ini');
    writeFileSync(
      file,
      `[setadm]\njob_name = root_worker\nqueue_name = cq\ndb = ${s.c.nodes.root!.url}\npidfile = ${pidfile}\n`,
    );
    const r = await new Promise<{ code: number; err: string }>((resolve) =>
      execFile(
        process.execPath,
        [cli, 'setadm', file, 'worker'],
        { encoding: 'utf8', timeout: 30_000 },
        (e, _o, err) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, err }),
      ),
    );
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(`already running as pid ${process.pid} (pidfile ${pidfile})`);
    expect(readFileSync(pidfile, 'utf8').trim()).toBe(String(process.pid));
  });

  it('creates the cascade from .ini files, runs workers, shows status and members', async () => {
    const { c } = s;
    expect((await run('root', 'create-root')).code).toBe(0);
    await c.tune('root');
    const noProvider = await run('mid', 'create-branch');
    expect(noProvider.code).toBe(1);
    expect(noProvider.err).toMatch(/needs --provider/);
    expect((await run('mid', 'create-branch', `--provider=${c.nodes.root!.url}`)).code).toBe(0);
    const leaf = await run('tip', 'create-leaf', 'tip', c.nodes.tip!.url, `--provider=${c.nodes.mid!.url}`);
    expect(leaf.code).toBe(0);
    expect(leaf.out).toMatch(/node tip created as leaf/);

    for (const n of ['root', 'mid', 'tip']) {
      const p = spawn(process.execPath, [cli, 'cascade', ini(n), 'worker', '-q'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      procs.push(p);
    }
    c.startTicker('root');
    const p = new Producer(c, 'root', 0);
    await p.many(40);
    const root = await connectUrl(c.nodes.root!.url)();
    await tickOnce(root);
    await root.end();
    await waitUntil('leaf worker reaches the root tick', async () => {
      const [r, l] = [await c.info('root'), await c.info('tip')];
      return l.workerLastTick != null && r.workerLastTick != null && l.workerLastTick >= r.workerLastTick;
    });
    expect((await queueEvents(c.nodes.mid!, 'cq')).map((e) => Number(e.ev_data))).toEqual(range(1, 40));

    const st = await run('tip', 'status');
    expect(st.code).toBe(0);
    expect(st.out).toMatch(/^Queue: cq {3}Local node: tip/);
    expect(st.out).toMatch(/root \(root\)/);
    expect(st.out).toMatch(/└─ mid \(branch\)/);
    expect(st.out).toMatch(/└─ tip \(leaf\)\s+Lag: \d+s, Tick: \d+/);
    const js = JSON.parse((await run('tip', 'status', '--json')).out);
    expect(js.roots[0].children[0].children[0].name).toBe('tip');
    const members = JSON.parse((await run('mid', 'members', '--json')).out);
    expect(members.map((m: { name: string }) => m.name)).toEqual(['mid', 'root', 'tip']);

    // wait-root / wait-provider: the leaf's worker has the root's / the branch's current tick
    const waitRoot = await run('tip', 'wait-root', '--timeout=60');
    expect(waitRoot.err).toBe('');
    expect(waitRoot).toMatchObject({ code: 0 });
    expect(waitRoot.out).toMatch(/^node tip reached tick \d+ of root\n$/);
    expect((await run('tip', 'wait-provider', '--timeout=60')).out).toMatch(
      /^node tip reached tick \d+ of mid\n$/,
    );
    const rootWaits = await run('root', 'wait-provider', '--timeout=60');
    expect(rootWaits.code).toBe(1);
    expect(rootWaits.err).toMatch(/the root has no provider to wait for/);

    expect((await run('tip', 'pause', '--timeout=60')).code).toBe(0);
    expect((await c.info('tip')).paused).toBe(true);
    expect((await run('tip', 'resume', '--timeout=60')).code).toBe(0);
    expect((await c.info('tip')).paused).toBe(false);

    // drop the leaf: its worker stops first, then the node disappears everywhere
    const tipWorker = procs[2]!;
    tipWorker.kill('SIGTERM');
    await new Promise((r) => (tipWorker.exitCode === null ? tipWorker.once('exit', r) : r(null)));
    expect((await run('mid', 'drop-node', 'tip')).code).toBe(0);
    const after = JSON.parse((await run('mid', 'members', '--json')).out);
    expect(after.map((m: { name: string }) => m.name)).toEqual(['mid', 'root']);
    expect((await c.info('tip')).nodeType).toBeNull();
    const subs = await c.nodes.mid!.query("select node_name from pgq_node.get_subscriber_info('cq')");
    expect(subs.rows).toEqual([]);

    const bad = await run('mid', 'no-such-command');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/unknown command "no-such-command"/);
  });
});
