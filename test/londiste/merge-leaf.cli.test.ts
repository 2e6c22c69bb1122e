// `skytools londiste <ini> create-leaf --combined-queue Q` (the original's `--merge Q`): a
// merge-leaf created from the command line, whose node records the combined queue (a root on the
// same database), and the option refused for the other node types.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { install } from '../../layers/install/installer.ts';
import { createDatabase } from '../support/db.ts';

type Db = Awaited<ReturnType<typeof createDatabase>>;

const cli = path.resolve(import.meta.dirname, '../../bin/skytools.ts');
const dir = mkdtempSync(path.join(os.tmpdir(), 'londiste-merge-cli-'));
let part: Db;
let merged: Db;

function ini(name: string, queue: string, db: Db, node: string): string {
  const file = path.join(dir, `${name}.ini`);
  writeFileSync(
    file,
    `[londiste]\njob_name = ${name}_worker\nqueue_name = ${queue}\ndb = ${db.url}\nnode_name = ${node}\n`,
  );
  return file;
}

function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, 'londiste', ...args, '-q'],
      { encoding: 'utf8', timeout: 90_000 },
      (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });
}

beforeAll(async () => {
  [part, merged] = await Promise.all([createDatabase(), createDatabase()]);
  for (const d of [part, merged]) {
    const has = await d.query("select 1 from pg_namespace where nspname = 'londiste'");
    if (!has.rows.length) await install(await d.connect(), { manifest: 'londiste/install.sql' });
  }
}, 120_000);
afterAll(async () => {
  await Promise.all([part?.drop(), merged?.drop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('skytools londiste create-leaf --combined-queue', () => {
  it('creates a merge-leaf that names its combined root; refuses the option elsewhere', async () => {
    expect((await run(ini('p1', 'part1', part, 'p1'), 'create-root')).code).toBe(0);
    expect((await run(ini('comb', 'comb', merged, 'm'), 'create-root')).code).toBe(0);
    const leafIni = ini('m_part1', 'part1', merged, 'm');
    const branch = await run(leafIni, 'create-branch', `--provider=${part.url}`, '--combined-queue=comb');
    expect(branch).toMatchObject({ code: 1, out: '' });
    expect(branch.err).toMatch(/--combined-queue \(--merge\) is for create-leaf only/);
    const leaf = await run(leafIni, 'create-leaf', `--provider=${part.url}`, '--combined-queue=comb');
    expect(leaf).toMatchObject({ code: 0, out: 'node m created as leaf for queue part1\n' });
    const info = await merged.one<{ node_type: string; combined_queue: string; combined_type: string }>(
      "select node_type, combined_queue, combined_type from pgq_node.get_node_info('part1')",
    );
    expect(info).toEqual({ node_type: 'leaf', combined_queue: 'comb', combined_type: 'root' });
    // the original's spelling: a second partition's merge-leaf with --merge
    expect((await run(ini('p2', 'part2', part, 'p2'), 'create-root')).code).toBe(0);
    const merge = await run(
      ini('m_part2', 'part2', merged, 'm'),
      'create-leaf',
      `--provider=${part.url}`,
      '--merge',
      'comb',
    );
    expect(merge.code).toBe(0);
    expect(
      (await merged.one("select combined_queue from pgq_node.get_node_info('part2')")).combined_queue,
    ).toBe('comb');
  }, 180_000);
});
