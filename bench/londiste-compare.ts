// `BENCH_ONLY=compare npm run bench -- londiste` (issue #12 item 7): compare of one table of
// BENCH_ROWS rows (default 1M) root → leaf, ours against londiste3 in the same run, rounds
// alternating the order; ours again while one connection writes at the root as fast as it can
// (the attempts it needs to meet the worker at its tick); then repair of a 1 % drift on the leaf (ours: the statements into a
// file, then --apply, then compare again = equal). Both setups as the main Londiste bench builds
// them (londiste-setups.ts: CLI, worker processes, each tool's ticker), the leaf's rows loaded by
// the raw COPY pipe and registered with `add-table --expect-sync`, so no copy is measured here.
// Times are the commands' wall clock (process start to exit, as a user sees them), with the CPU of
// the command (/usr/bin/time) and of the server's backends (backendsCpu); ours also
// prints what the command itself measured (--json: the tick sync and the whole compare).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { client, loadAverage, rawPipe, type Server, serverFromUrl } from './londiste-env.ts';
import { LondisteSetup, londiste3Flavour, oursFlavour } from './londiste-setups.ts';

export interface BenchCompareOptions {
  adminUrl: string;
  rows: number;
  rounds: number;
}

const say = (m: string) => console.log(m);
const la = () => `load ${loadAverage()[0].toFixed(1)}`;
const fmt = (x: number, d = 2) => x.toFixed(d);

/**
 * CPU seconds (user + sys) of the server's backends that ended so far: the postmaster's
 * children's times (/proc/<pid>/stat cutime + cstime), which grow when a backend exits. A
 * command's connections all end with it, so the growth over a command is its backends' CPU on
 * both sides (both nodes are databases of this one server) — plus that of any other session
 * that ended meanwhile (autovacuum workers, other users of the server: an upper bound at load).
 */
function backendsCpu(postmasterPid: number): number {
  const stat = readFileSync(`/proc/${postmasterPid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 16 and 17 of stat(5), counted after the command name: index 13 and 14 here
  return (Number(f[13]) + Number(f[14])) / CLK_TCK;
}
const CLK_TCK = 100;

async function postmasterPid(url: string): Promise<number> {
  const c = await client(url);
  try {
    const r = await c.query("select split_part(pg_read_file('postmaster.pid'), E'\\n', 1)::int as pid");
    return r.rows[0].pid;
  } finally {
    await c.end();
  }
}

interface Timed {
  seconds: number;
  code: number;
  out: string;
  /** CPU seconds of the command's process (and its children) and of the server's backends. */
  cpu: { command: number; backends: number };
}

/** Runs `londiste <leaf ini> …` of a setup; wall seconds, exit code and output (no throw on exit ≠ 0). */
function timed(s: LondisteSetup, args: string[], pmPid: number, dir: string): Promise<Timed> {
  const [cmd, argv] = s.f.cmd(s.ini.leaf, args);
  const timeFile = path.join(dir, 'time.out');
  const b0 = backendsCpu(pmPid);
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(
      '/usr/bin/time',
      ['-f', '%U %S', '-o', timeFile, cmd, ...argv],
      { encoding: 'utf8', maxBuffer: 256 << 20, timeout: 900_000 },
      (e, out, err) => {
        const seconds = (performance.now() - t0) / 1000;
        const [u, sy] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
        resolve({
          seconds,
          code: e ? Number((e as { code?: number }).code ?? 1) : 0,
          out: `${out}${err}`,
          cpu: { command: (u ?? 0) + (sy ?? 0), backends: backendsCpu(pmPid) - b0 },
        });
      },
    );
  });
}

const cpuText = (t: Timed) =>
  `CPU: command ${fmt(t.cpu.command)} s, backends ${fmt(t.cpu.backends)} s, sum ${fmt(t.cpu.command + t.cpu.backends)} s`;

/** A round trip (`select 1`, p50 of 50) on the leaf's server: what each query of a compare pays. */
async function roundTripMs(url: string): Promise<number> {
  const c = await client(url);
  try {
    const ms: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      await c.query('select 1');
      ms.push(performance.now() - t);
    }
    return ms.sort((a, b) => a - b)[25]!;
  } finally {
    await c.end();
  }
}

async function sql(url: string, text: string): Promise<void> {
  const c = await client(url);
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

export async function benchLondisteCompare(o: BenchCompareOptions): Promise<void> {
  const server: Server = serverFromUrl('debian', o.adminUrl);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-compare-'));
  say(`Londiste compare/repair: ${o.rows} rows, ${o.rounds} rounds; ${la()}; work dir ${dir}`);
  const base = { server, rows: o.rows, dir, clients: 1 };
  const setups = [new LondisteSetup(oursFlavour, base), new LondisteSetup(londiste3Flavour, base)];
  const fig = new Map<string, number[]>();
  const push = (k: string, v: number) => fig.set(k, [...(fig.get(k) ?? []), v]);
  try {
    for (const s of setups) {
      say(`preparing ${s.label} (${la()})`);
      await s.prepare();
      await rawPipe(server, s.db.root, s.db.leaf);
      await sql(s.url('leaf'), 'analyze public.t');
      await s.londiste('leaf', 'add-table', 'public.t', '--expect-sync');
    }
    const pm = await postmasterPid(o.adminUrl);
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 ? [...setups].reverse() : setups;
      say(
        `\nround ${round + 1}/${o.rounds} (round trip ${fmt(await roundTripMs(setups[0]!.url('leaf')))} ms)`,
      );
      for (const s of order) {
        const args = s.label === 'ours' ? ['compare', 'public.t', '--json', '-q'] : ['compare', 'public.t'];
        const r = await timed(s, args, pm, dir);
        if (r.code !== 0) {
          say(`  compare ${s.label}: exit ${r.code} (tables differ or failure)\n${r.out.slice(-1500)}`);
          continue;
        }
        push(`compare ${s.label}`, r.seconds);
        push(`compare ${s.label} CPU command`, r.cpu.command);
        push(`compare ${s.label} CPU backends`, r.cpu.backends);
        push(`compare ${s.label} CPU sum`, r.cpu.command + r.cpu.backends);
        let inner = '';
        if (s.label === 'ours') {
          const j = JSON.parse(r.out) as {
            syncMs: number;
            totalMs: number;
            planMs: number;
            checksumMs: number;
          };
          push('compare ours (in command)', j.totalMs / 1000);
          push('compare ours (checksums)', j.checksumMs / 1000);
          push('compare ours (reaching the tick)', j.syncMs / 1000);
          inner = `; in the command ${j.totalMs} ms: setup ${j.planMs}, reaching one tick ${j.syncMs}, checksums ${j.checksumMs}`;
        }
        say(`  compare ${s.label.padEnd(9)} ${fmt(r.seconds)} s${inner}; ${cpuText(r)} (${la()})`);
      }
    }
    // compare while the root keeps writing (ours): how many attempts it needs to meet the worker
    // at its tick (the gate holds the root's ticker there, sync.ts)
    const ours = setups[0]!;
    {
      let stop = false;
      let writes = 0;
      const w = await client(ours.url('root'));
      const writer = (async () => {
        for (let i = 0; !stop; i++) {
          await w.query('update public.t set n = n + 1 where id = $1', [1 + ((i * 7919) % o.rows)]);
          await w.query("insert into public.t values ($1, 'w', 0, now())", [1_500_000_000 + i]);
          writes += 2;
        }
      })();
      await new Promise((r) => setTimeout(r, 1000));
      say(`\ncompare under writes at the root (ours; ${la()})`);
      for (let round = 0; round < o.rounds; round++) {
        const w0 = writes;
        const r = await timed(ours, ['compare', 'public.t', '--json', '-q'], pm, dir);
        if (r.code !== 0) {
          say(`  compare ours under writes: exit ${r.code}\n${r.out.slice(-1500)}`);
          continue;
        }
        const j = JSON.parse(r.out) as { syncMs: number; attempts: number; totalMs: number };
        push('compare ours under writes', r.seconds);
        push('compare ours under writes (attempts)', j.attempts);
        say(
          `  compare ours ${fmt(r.seconds)} s: ${j.attempts} attempt(s), reaching the tick ${j.syncMs} ms, ` +
            `in the command ${j.totalMs} ms; ${Math.round((writes - w0) / r.seconds)} writes/s; ${cpuText(r)} (${la()})`,
        );
      }
      stop = true;
      await writer;
      await w.end();
    }
    // repair: 1 % of the rows changed on the leaf (no replication of it: as replica)
    const drift = Math.floor(o.rows / 100);
    await sql(
      ours.url('leaf'),
      `begin; set local session_replication_role = replica;
       update public.t set v = 'drift' where id % 300 = 0;
       delete from public.t where id % 300 = 1;
       insert into public.t select g, 'extra', 0, now() from generate_series(2000000001, 2000000000 + ${drift} - 2 * ${Math.floor(o.rows / 300)}) g;
       commit`,
    );
    say(`\nrepair of ~${drift} differing rows (${la()})`);
    for (let round = 0; round < o.rounds; round++) {
      const file = path.join(dir, `fix-${round}.sql`);
      const r = await timed(ours, ['repair', 'public.t', '--output', file, '-q'], pm, dir);
      if (r.code !== 1) say(`  repair ours: exit ${r.code}\n${r.out.slice(-1500)}`);
      push('repair ours', r.seconds);
      push('repair ours CPU sum', r.cpu.command + r.cpu.backends);
      say(
        `  repair ours (to a file)  ${fmt(r.seconds)} s, ${statSync(file).size} bytes: ${r.out.trim()}; ${cpuText(r)} (${la()})`,
      );
    }
    const applied = await timed(ours, ['repair', 'public.t', '--apply', '-q'], pm, dir);
    say(
      `  repair ours --apply      ${fmt(applied.seconds)} s: ${applied.out.trim()}; ${cpuText(applied)} (${la()})`,
    );
    const after = await timed(ours, ['compare', 'public.t', '-q'], pm, dir);
    say(`  compare after repair: exit ${after.code} ${after.out.trim()}`);
  } finally {
    for (const s of setups)
      await s.cleanup().catch((e) => say(`cleanup ${s.label}: ${(e as Error).message}`));
  }
  const best = (k: string) => {
    const xs = fig.get(k) ?? [];
    return xs.length ? Math.min(...xs) : null;
  };
  const ratio = (a: number | null, b: number | null) => (a && b ? fmt(a / b) : '—');
  say(`\nbest of ${o.rounds} (${la()} now, round trip ${fmt(await roundTripMs(o.adminUrl))} ms)`);
  for (const [k] of fig) say(`  ${k.padEnd(28)} ${fmt(best(k) ?? 0)} s`);
  say(
    `  compare: ours ÷ londiste3 ${ratio(best('compare ours'), best('compare londiste3'))} (≤ 0.25); ours ${fmt(best('compare ours') ?? 0)} s (≤ 1 s)`,
  );
  say(`  repair ÷ compare (ours) ${ratio(best('repair ours'), best('compare ours'))} (≤ 3)`);
  // Under load the wall clocks follow each command's share of the two cores; the CPU does not.
  say(
    `  repair ÷ compare (ours, CPU sum) ${ratio(best('repair ours CPU sum'), best('compare ours CPU sum'))}`,
  );
  if (process.env.BENCH_KEEP) say(`logs kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
