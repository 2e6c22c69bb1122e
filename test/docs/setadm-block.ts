// The README's setadm walk-through, run as a user would on three scratch databases: the [setadm]
// block as b.ini, a.ini and c.ini the same with their own node, the commands in the README's
// order, a worker per node and pgqd (ticking the root) in the background. Substitutions only:
// each `host=db-X dbname=app` becomes database X's libpq string, bin/skytools.ts this checkout's.
// The takeover lines are alternatives (switchover, or failover then resurrect), so they run on
// two cascades: switchover on the first, failover → resurrect → tag-alive → resume on the second.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { expect, inject } from 'vitest';
import { createDatabase, type TestDb } from '../support/db.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NODES = ['a', 'b', 'c'] as const;
type Node = (typeof NODES)[number];

/** libpq key=value string of a test database (what a user writes as `host=db-a dbname=app`). */
function libpq(url: string): string {
  const u = new URL(url);
  return [
    `host=${u.hostname}`,
    `port=${u.port}`,
    `user=${decodeURIComponent(u.username)}`,
    ...(u.password ? [`password=${decodeURIComponent(u.password)}`] : []),
    `dbname=${u.pathname.slice(1)}`,
  ].join(' ');
}

interface Cascade {
  dir: string;
  dbs: Record<Node, TestDb & { drop(): Promise<void> }>;
  procs: ChildProcess[];
  workers: Partial<Record<Node, ChildProcess>>;
  /** Runs one README line (comment stripped) in the cascade's directory. */
  run(line: string): Promise<{ code: number; out: string; err: string }>;
}

/** The README line with the test's hosts and checkout. */
function rewrite(line: string, c: Cascade): string {
  return line
    .replace(/\s+#.*$/, '')
    .replace(/host=db-([abc]) dbname=app/g, (_, n: Node) => libpq(c.dbs[n].url))
    .replace('node bin/skytools.ts', `node ${path.join(ROOT, 'bin/skytools.ts')}`);
}

async function cascade(iniBlock: string): Promise<Cascade> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'readme-setadm-'));
  const dbs = {} as Cascade['dbs'];
  for (const n of NODES) dbs[n] = await createDatabase();
  const c: Cascade = {
    dir,
    dbs,
    procs: [],
    workers: {},
    run(line) {
      const cmd = rewrite(line, c);
      return new Promise((resolve) => {
        execFile('bash', ['-c', cmd], { cwd: dir, encoding: 'utf8', timeout: 90_000 }, (e, out, err) =>
          resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err: `${line}\n${err}` }),
        );
      });
    },
  };
  for (const n of NODES) {
    // b.ini is the README's block; a.ini and c.ini are the same for their node.
    const ini = iniBlock
      .replace('job_name = node_b_worker', `job_name = node_${n}_worker`)
      .replace('node_name = b', `node_name = ${n}`)
      .replace('host=db-b dbname=app', `host=db-${n} dbname=app`);
    const db = ini.replace(/host=db-([abc]) dbname=app/g, (_, x: Node) => libpq(dbs[x].url));
    writeFileSync(path.join(dir, `${n}.ini`), `${db}\n`);
  }
  return c;
}

/** Starts a README line in the background (a worker, pgqd); stopped by stopAll. */
function background(c: Cascade, line: string): ChildProcess {
  const p = spawn('bash', ['-c', `exec ${rewrite(line, c)}`], {
    cwd: c.dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  p.stderr!.on('data', (d) => (err += d));
  p.once('exit', (code, sig) => {
    if (code && !sig) console.error(`${line} exited ${code}:\n${err}`);
  });
  c.procs.push(p);
  return p;
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await exited;
}

async function teardown(c: Cascade): Promise<void> {
  await Promise.all(c.procs.map(stop));
  for (const n of NODES) {
    await adminQuery(`alter database ${c.dbs[n].name} allow_connections true`).catch(() => {});
    await c.dbs[n].drop();
  }
  rmSync(c.dir, { recursive: true, force: true });
}

async function adminQuery(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/** create-root/branch/leaf, then a worker per node and pgqd on the root, as the README says. */
async function build(c: Cascade, line: (re: RegExp) => string): Promise<void> {
  for (const re of [/ create-root /, / create-branch /, / create-leaf /]) {
    const r = await c.run(line(re));
    expect(r.code, r.err).toBe(0);
  }
  const worker = line(/ worker/);
  for (const n of NODES) c.workers[n] = background(c, worker.replace('b.ini', `${n}.ini`));
  // "pgqd ticks the root": the README's pgqd, told about the root's database only.
  const base = libpq(c.dbs.a.url).replace(/ dbname=\S+/, '');
  background(
    c,
    `node bin/skytools.ts pgqd --base-connstr '${base}' --database-list ${c.dbs.a.name} --ticker-period 100ms`,
  );
}

/** `status` on the leaf until it shows the expected tree lines. */
async function statusShows(c: Cascade, line: string, want: RegExp[]): Promise<string> {
  let out = '';
  for (let i = 0; i < 100; i++) {
    const r = await c.run(line);
    expect(r.code, r.err).toBe(0);
    out = r.out;
    if (want.every((re) => re.test(out))) return out;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`status never showed ${want.join(', ')}:\n${out}`);
}

export async function runSetadmBlock(iniBlock: string, commands: string): Promise<void> {
  const lines = commands.split('\n');
  const ran = new Set<string>();
  const line = (re: RegExp) => {
    const l = lines.find((x) => re.test(x.replace(/\s+#.*$/, '')));
    expect(l, `a README line matching ${re}`).toBeDefined();
    ran.add(l!);
    return l!;
  };
  const status = line(/ status/);

  // 1. the cascade, its status, and a switchover
  const one = await cascade(iniBlock);
  try {
    await build(one, line);
    await statusShows(one, status, [/a \(root\)/, /└─ b \(branch\)/, /└─ c \(leaf\)/]);
    const r = await one.run(line(/ takeover a$/));
    expect(r.code, r.err).toBe(0);
    await statusShows(one, status, [/b \(root\)/, /─ a \(branch\)/, /─ c \(leaf\)/]);
  } finally {
    await teardown(one);
  }

  // 2. a second cascade whose root goes away: failover, then the old root comes back
  const two = await cascade(iniBlock);
  try {
    await build(two, line);
    await statusShows(two, status, [/a \(root\)/, /└─ b \(branch\)/, /└─ c \(leaf\)/]);
    // a is gone: its worker and ticker stop, its database refuses connections
    for (const p of two.procs.filter((p) => p !== two.workers.b && p !== two.workers.c)) await stop(p);
    await adminQuery(`alter database ${two.dbs.a.name} allow_connections false`);
    await adminQuery(
      `select pg_terminate_backend(pid) from pg_stat_activity where datname = '${two.dbs.a.name}'`,
    );
    const failover = await two.run(line(/ takeover a --dead-root$/));
    expect(failover.code, failover.err).toBe(0);
    await statusShows(two, status, [/b \(root\)/, /─ c \(leaf\)/, /^a \(dead\)/m]);

    // later a is back: resurrect it, tag it alive, resume it (the comment's last step)
    await adminQuery(`alter database ${two.dbs.a.name} allow_connections true`);
    for (const re of [/ resurrect$/, / tag-alive a$/]) {
      const r = await two.run(line(re));
      expect(r.code, r.err).toBe(0);
    }
    two.workers.a = background(two, line(/ worker/).replace('b.ini', 'a.ini'));
    expect(line(/ tag-alive a$/)).toMatch(/# … then: setadm a\.ini resume$/);
    const r = await two.run('node bin/skytools.ts setadm a.ini resume');
    expect(r.code, r.err).toBe(0);
    const after = await statusShows(two, status, [/b \(root\)/, /─ a \(branch\)/, /─ c \(leaf\)/]);
    expect(after).not.toMatch(/PAUSED|dead/);
  } finally {
    await teardown(two);
  }
  expect(lines.filter((l) => !ran.has(l))).toEqual([]);
}
