// Our `skytools londiste` setup operating nodes that run the original extensions (Debian's pgq,
// pgq_node and londiste 3.8 on the PGQ_C_URL server), and the original `londiste` command
// (python3-londiste) on the same nodes, reading and changing what ours set up: the same
// tables/seqs/missing output byte for byte,
// tables it adds seen by ours, execute through the original's execute_start/finish.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { register } from '../../cli/commands/londiste.ts';
import { reportError } from '../../layers/errors/exit.ts';
import { compatServerDb, type OwnedNodeDb, useCluster } from '../cascade/cluster.ts';
import { libpqBase, probeCompat } from '../support/compat.ts';

const env = await probeCompat();
const hasLondiste = env.ok && env.hasPythonPgq;
if (!hasLondiste)
  console.warn(`londiste admin vs original skipped: ${env.reason || 'python3-londiste not installed'}`);

async function originalNode(): Promise<OwnedNodeDb> {
  const d = await compatServerDb('c-extension');
  await d.query('create extension londiste');
  return d;
}

describe.runIf(hasLondiste)(
  'skytools londiste on the original extensions, side by side with the original londiste',
  () => {
    const f = useCluster(['R', 'B'], { create: originalNode });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'londiste-compat-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const ini = (node: string, forPython = false) => {
      const file = path.join(dir, `${node}${forPython ? '-py' : ''}.ini`);
      const db = forPython ? `${libpqBase()} dbname=${f.c.nodes[node]!.name}` : f.c.loc(node);
      writeFileSync(
        file,
        [
          '[londiste]',
          `job_name = w_${node}`,
          'queue_name = cq',
          `db = ${db}`,
          `node_name = ${node}`,
          `logfile = ${dir}/${node}.log`,
          `pidfile = ${dir}/${node}.pid`,
          '',
        ].join('\n'),
      );
      return file;
    };

    async function ours(
      node: string,
      ...args: string[]
    ): Promise<{ code: number; out: string; err: string }> {
      const program = new Command('skytools').exitOverride();
      register(program);
      let out = '';
      let err = '';
      const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
        out += String(s);
        return true;
      });
      try {
        await program.parseAsync(['node', 'skytools', 'londiste', ini(node), ...args, '-q']);
        return { code: 0, out, err };
      } catch (error) {
        return {
          code: reportError(error, { command: 'londiste' }, { write: (s) => (err += s), env: {} }),
          out,
          err,
        };
      } finally {
        o.mockRestore();
      }
    }

    const oursOk = async (node: string, ...args: string[]) => {
      const r = await ours(node, ...args);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
      return r.out;
    };

    const python = (node: string, ...args: string[]) =>
      new Promise<string>((resolve, reject) => {
        execFile(
          env.python,
          ['-m', 'londiste.cli', ini(node, true), ...args],
          { encoding: 'utf8', timeout: 60_000 },
          (e, stdout, stderr) =>
            e ? reject(new Error(`londiste ${args.join(' ')}: ${e.message}\n${stderr}`)) : resolve(stdout),
        );
      });

    beforeAll(async () => {
      await f.c.nodes.R!.query(
        `create table public.t1 (id int primary key, v text);
       create table public.t2 (id int primary key, n int);
       create table public.t3 (id int primary key);
       create sequence public.s1;`,
      );
    });

    it('sets up root and branch on the original extensions', async () => {
      expect(await oursOk('R', 'create-root')).toBe('node R created as root for queue cq\n');
      expect(await oursOk('R', 'add-table', 't1', 't2')).toBe(
        'Table added: public.t1\nTable added: public.t2\n',
      );
      expect(await oursOk('R', 'add-seq', 's1')).toBe('Sequence added: public.s1\n');
      expect(await oursOk('B', 'create-branch', `--provider=${f.c.loc('R')}`)).toBe(
        'node B created as branch for queue cq\n',
      );
      expect(await oursOk('B', 'add-table', 't1', '--create')).toBe('Table added: public.t1\n');
      expect(await oursOk('B', 'add-seq', 's1', '--create')).toBe('Sequence added: public.s1\n');
      const rows = await f.c.nodes.B!.query(
        "select table_name, local, merge_state from londiste.get_table_list('cq') order by 1",
      );
      expect(rows.rows).toEqual([
        { table_name: 'public.t1', local: true, merge_state: null },
        { table_name: 'public.t2', local: false, merge_state: null },
      ]);
    });

    it('prints tables, seqs and missing exactly as the original londiste does', async () => {
      for (const node of ['R', 'B']) {
        for (const cmd of ['tables', 'seqs', 'missing']) {
          const theirs = await python(node, cmd);
          expect(`${await oursOk(node, cmd)}\n`, `${node} ${cmd}`).toBe(theirs);
        }
      }
    });

    it('sees what the original adds, and the original sees what ours changes', async () => {
      await python('R', 'add-table', 'public.t3');
      expect(await oursOk('R', 'tables', '--names-only')).toBe('public.t1\npublic.t2\npublic.t3\n');
      // The branch learns the table from the root's list when ours adds it there.
      expect(await oursOk('B', 'add-table', 't3', '--create')).toBe('Table added: public.t3\n');
      expect(await oursOk('B', 'remove-table', 't1')).toBe('Table removed: public.t1\n');
      expect(await python('B', 'tables', '--names-only')).toBe('public.t3\n');
    });

    it('executes a DDL file through the original execute_start / execute_finish', async () => {
      const file = path.join(dir, 'add-col.sql');
      writeFileSync(file, '--*-- Local-Table: public.t2\nalter table @public.t2@ add column note text;\n');
      expect(await oursOk('R', 'execute', file)).toBe('Execute finished: add-col.sql\n');
      const ev = await f.c.nodes.R!.query(
        "select ev_type, ev_extra1, ev_extra2 from pgq.event_template where ev_type = 'EXECUTE'",
      );
      expect(ev.rows).toEqual([
        { ev_type: 'EXECUTE', ev_extra1: 'add-col.sql', ev_extra2: 'local-table=public.t2' },
      ]);
      const again = await ours('R', 'execute', file);
      expect(again.code).toBe(0);
      expect(again.out).toBe('');
    });
  },
);
