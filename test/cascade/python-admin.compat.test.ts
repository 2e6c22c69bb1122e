// The original python3-pgq cascade admin (pgq.cascade.admin, i.e. setadm) operating a cascade that
// runs on our SQL with our workers: it creates a leaf under our branch, shows members and the
// status tree, pauses and resumes our worker; events from the root reach the python-made leaf.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeCompat } from '../support/compat.ts';
import { type Cluster, compatServerDb, Producer, range, seen, useCluster, waitUntil } from './cluster.ts';

const env = await probeCompat();
const ready = env.ok && env.hasPythonPgq;
if (!ready)
  console.warn(`python cascade admin on our SQL skipped: ${env.reason || 'python3-pgq not installed'}`);

describe.runIf(ready)('python3-pgq setadm on a cascade running on our SQL', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cascade-py-'));
  const f = useCluster(['A', 'B', 'L'], { create: () => compatServerDb('ours'), record: 'L' });
  let c: Cluster;
  const ini = (node: string) => {
    const file = path.join(dir, `${node}.ini`);
    writeFileSync(
      file,
      [
        '[setadm]',
        `job_name = w_${node}`,
        'queue_name = cq',
        `node_db = ${c.loc(node)}`,
        `logfile = ${dir}/${node}.log`,
        `pidfile = ${dir}/${node}.pid`,
        '',
      ].join('\n'),
    );
    return file;
  };
  // Asynchronous: our workers run in this process and must keep working while setadm waits for them.
  const setadm = (node: string, ...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(
        env.python,
        ['-m', 'pgq.cascade.admin', ini(node), ...args],
        { encoding: 'utf8', timeout: 60_000 },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`setadm ${args.join(' ')} failed: ${err.message}\n${stderr}\n${stdout}`));
          else resolve(stdout);
        },
      );
    });

  beforeAll(async () => {
    c = f.c;
    await c.withAdmin('A', (x) =>
      x.createNode('root', { nodeName: 'A', location: c.loc('A'), worker: 'w_A' }),
    );
    await c.tune('A');
    await c.withAdmin('B', (x) =>
      x.createNode('branch', { nodeName: 'B', location: c.loc('B'), worker: 'w_B', provider: c.loc('A') }),
    );
    c.startAll();
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a leaf, lists members, shows status, pauses and resumes our worker', async () => {
    await setadm('L', 'create-leaf', 'L', c.loc('L'), `--provider=${c.loc('B')}`, '--worker=w_L');
    const li = await c.info('L');
    expect([li.nodeType, li.providerNode, li.workerName]).toEqual(['leaf', 'B', 'w_L']);
    c.startWorker('L');

    const p = new Producer(c, 'A', 0);
    await p.many(50);
    await waitUntil(
      'leaf created by python gets the events',
      async () => (await seen(c.nodes.L!)).length >= 50,
    );
    expect(await seen(c.nodes.L!)).toEqual(range(1, 50));

    const members = await setadm('B', 'members');
    for (const n of ['A', 'B', 'L']) expect(members).toMatch(new RegExp(`\\b${n}\\b`));
    const status = await setadm('L', 'status');
    expect(status).toMatch(/A \(root\)/);
    expect(status).toMatch(/B \(branch\)/);
    expect(status).toMatch(/L \(leaf\)/);
    expect(status).toMatch(/Lag: /);

    await setadm('L', 'pause', '--node=L');
    expect((await c.info('L')).paused).toBe(true);
    await p.many(10);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await seen(c.nodes.L!)).length).toBe(50);
    await setadm('L', 'resume', '--node=L');
    await waitUntil('leaf resumes', async () => (await seen(c.nodes.L!)).length >= 60);
    expect(await seen(c.nodes.L!)).toEqual(range(1, 60));
  });
});
