// Every code block of the README is run here, as a user would run it, so the guide cannot rot —
// or is named below with the reason it is not run here and where its behaviour is tested. A new
// block that is neither fails this test. The long walk-throughs have a runner module each
// (cdk-block.ts, setadm-block.ts, walmgr-block.ts); a test substitutes only hosts, paths, ports.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCascadeConfig } from '../../layers/cascade/settings.ts';
import { createDatabase } from '../support/db.ts';
import { removeCdkBlockFiles, runCdkBlocks } from './cdk-block.ts';
import { runSetadmBlock } from './setadm-block.ts';
import { runWalmgrBlock } from './walmgr-block.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const hasPsql = spawnSync('psql', ['--version']).status === 0;

interface Block {
  line: number;
  lang: string;
  text: string;
}

function blocks(md: string): Block[] {
  const out: Block[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]!);
    out.push({ line: start + 1, lang: open[1]!, text: body.join('\n') });
  }
  return out;
}

/** Blocks not run here, by their first line: why, and where that behaviour is tested instead. */
const NOT_RUN: Array<[RegExp, string]> = [
  [
    /^npm start /,
    'the quick start: `npm test` is what CI runs; `npm start` is test/dev/dev-stack.runtime.test.ts',
  ],
  [/^skytools dev — /, 'sample output of the live view: test/dev/live-view.unit.test.ts'],
  [
    /^import \{ consumerHandler \}/,
    'the handler of the CDK block: type-checked, bundled and invoked with it (RUN, below)',
  ],
  [/^npm test {2,}/, 'the development commands: what CI runs'],
];

/** Runs a line of shell in the repository root, with DATABASE_URL set. */
function sh(cmd: string, url: string) {
  return spawnSync('bash', ['-c', cmd], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: url },
  });
}

/** Blocks run here, by their first line; a third element is the test's timeout (ms) when it needs longer. */
const RUN: Array<[RegExp, (b: Block) => Promise<void>, number?]> = [
  [
    /^psql -X -v ON_ERROR_STOP=1 -d "\$DATABASE_URL" -f sql\/install\.sql/,
    async (b) => {
      const db = await createDatabase({ empty: true });
      try {
        for (const line of b.text.split('\n')) {
          if (line.startsWith('psql') && !hasPsql) continue;
          const r = sh(line.replace(/\s+#.*$/, ''), db.url);
          expect(r.status, `${line}\n${r.stderr}`).toBe(0);
        }
        expect((await db.one('select pgq.version() as v')).v).toMatch(/^3\./);
      } finally {
        await db.drop();
      }
    },
  ],
  [
    /^select pgq\.create_queue\('orders'\);/,
    async (b) => {
      if (!hasPsql) return;
      const db = await createDatabase();
      const dir = mkdtempSync(path.join(os.tmpdir(), 'readme-'));
      try {
        writeFileSync(path.join(dir, 'api.sql'), `${b.text}\n`);
        const r = spawnSync(
          'psql',
          ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db.url, '-f', path.join(dir, 'api.sql')],
          {
            encoding: 'utf8',
          },
        );
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/created/);
        const left = await db.one('select count(*)::int as n from pgq.retry_queue');
        expect(left.n).toBe(1); // the event_retry line
      } finally {
        await db.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  ],
  [
    /^import \{ createPool, withTransaction \} from '\.\/layers\/db\/index\.ts';/,
    async (b) => {
      const db = await createDatabase();
      const file = path.join(ROOT, `.readme-snippet-${process.pid}.ts`);
      try {
        await db.query('create table sent (id bigint primary key)');
        await db.query("select pgq.create_queue('orders')");
        await db.query("select pgq.set_queue_config('orders', 'ticker_max_lag', '0')");
        writeFileSync(file, b.text);
        const child = spawn(process.execPath, [file], {
          env: { ...process.env, DATABASE_URL: db.url },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        const exited = new Promise<number | null>((r) => child.once('exit', r));
        try {
          // the snippet registers its consumer, then produces; a tick makes the batch
          let n = 0;
          for (let i = 0; i < 200 && n === 0; i++) {
            await new Promise((r) => setTimeout(r, 50));
            await db.query("select pgq.ticker('orders')").catch(() => {});
            n = (await db.one('select count(*)::int as n from sent')).n;
          }
          expect(n, stderr).toBe(1);
        } finally {
          child.kill('SIGINT');
        }
        expect(await exited, stderr).toBe(0);
      } finally {
        rmSync(file, { force: true });
        await db.drop();
      }
    },
  ],
  [
    /^node bin\/skytools\.ts pgqd --ini > pgqd\.ini/,
    async (b) => {
      // The first line only: the others start the daemon (test/pgq/pgqd.cli.test.ts runs it).
      const first = b.text
        .split('\n')[0]!
        .replace(/\s+#.*$/, '')
        .replace('> pgqd.ini', '');
      const r = sh(first, '');
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^\[pgqd\]\n/);
      for (const line of b.text.split('\n')) expect(line).toMatch(/^node bin\/skytools\.ts pgqd /);
    },
  ],
  [
    /^node bin\/skytools\.ts qadmin --db "\$DATABASE_URL" create queue orders/,
    async (b) => {
      const db = await createDatabase();
      try {
        for (const line of b.text.split('\n')) {
          const r = sh(line.replace(/\s+#.*$/, ''), db.url);
          expect(r.status, `${line}\n${r.stderr}`).toBe(0);
        }
        const q = await db.one(
          "select queue_ticker_max_lag::text as lag, queue_ticker_max_count as n from pgq.queue where queue_name = 'orders'",
        );
        expect(q).toEqual({ lag: '00:00:00.1', n: 1000 });
      } finally {
        await db.drop();
      }
    },
  ],
  [
    /^\[setadm\]/,
    async (b) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'readme-'));
      try {
        writeFileSync(path.join(dir, 'b.ini'), `${b.text}\n`);
        const cfg = loadCascadeConfig(path.join(dir, 'b.ini'));
        expect(cfg.warnings).toEqual([]);
        expect(cfg).toMatchObject({ jobName: 'node_b_worker', queue: 'events', nodeName: 'b' });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  ],
  [
    /^node bin\/skytools\.ts setadm a\.ini create-root/,
    async (b) => {
      const ini = blocks(README).find((x) => /^\[setadm\]/.test(x.text));
      expect(ini, 'the [setadm] block').toBeDefined();
      await runSetadmBlock(ini!.text, b.text);
    },
    180_000,
  ],
  [/^export PGDATA=\/srv\/pg\/main/, (b) => runWalmgrBlock(b.text), 180_000],
  [
    /^archive_mode = on\n/,
    async (b) => {
      const r = sh('node bin/skytools.ts walmgr --repo /var/backups/walmgr archive-command', '');
      expect(r.status, r.stderr).toBe(0);
      // the same lines, up to where node and this checkout live
      const shape = (t: string) =>
        t
          .replace(/SKYTOOLS_NODE=\S+ \S+\/layers\/walmgr\//g, 'SKYTOOLS_NODE=NODE CHECKOUT/layers/walmgr/')
          .trim();
      expect(shape(r.stdout)).toBe(shape(b.text));
    },
  ],
  [
    /^import \{ PgqConsumerFunction/,
    async (b) => {
      const handler = blocks(README).find((x) => /^import \{ consumerHandler \}/.test(x.text));
      expect(handler, 'the handler block').toBeDefined();
      await runCdkBlocks(b.text, handler!.text);
    },
    120_000, // tsc over the snippets' import graph, then synth with esbuild
  ],
];

// A block whose test times out is abandoned before its `finally`: what it wrote into the
// repository goes here at the latest.
afterAll(() => {
  removeCdkBlockFiles();
  rmSync(path.join(ROOT, `.readme-snippet-${process.pid}.ts`), { force: true });
});

describe('README code blocks', () => {
  const all = blocks(README);

  it('every block is run below or says why not', () => {
    const unmatched = all.filter(
      (b) => !RUN.some(([re]) => re.test(b.text)) && !NOT_RUN.some(([re]) => re.test(b.text)),
    );
    expect(unmatched.map((b) => `README.md:${b.line}: ${b.text.split('\n')[0]}`)).toEqual([]);
    for (const [re] of [...RUN, ...NOT_RUN]) {
      expect(
        all.some((b) => re.test(b.text)),
        `no README block matches ${re}`,
      ).toBe(true);
    }
  });

  for (const [re, run, timeout] of RUN) {
    it(`runs the block starting ${re.source.slice(1, 50)}`, { timeout }, async () => {
      const b = all.find((x) => re.test(x.text));
      expect(b, `no README block matches ${re}`).toBeDefined();
      await run(b!);
    });
  }
});
