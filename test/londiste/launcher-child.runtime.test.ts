// The child-process launcher counts failed copy jobs as the ECS launcher does (the worker's
// CopyTaskFailures): a job that exits non-zero, dies of a signal it was not sent, or never
// starts is reported once through onFailure; a job that finishes, or that close() stops, is not.
// createCopyLauncher (launcher = child) hands the worker's failure hook to it.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChildProcessLauncher } from '../../layers/londiste/launcher.ts';
import { createCopyLauncher } from '../../layers/londiste/run-worker.ts';
import { loadLondisteEnvConfig } from '../../layers/londiste/settings.ts';
import { silentLogger } from '../../layers/util/log.ts';
import { waitUntil } from './replication.ts';

const node = process.execPath;

function launcher(script: string) {
  const failures: string[] = [];
  const l = new ChildProcessLauncher(node, ['-e', script], undefined, undefined, (table, reason) =>
    failures.push(`${table}: ${reason}`),
  );
  return { l, failures };
}

describe('ChildProcessLauncher failures', () => {
  it('reports a copy job that exits non-zero, once', async () => {
    const { l, failures } = launcher('process.exit(3)');
    await l.launch('public.orders');
    await waitUntil('the job ended', async () => !l.isRunning('public.orders'));
    expect(failures).toEqual(['public.orders: exit code 3']);
  });

  it('reports a job killed by a signal it was not sent by close()', async () => {
    const { l, failures } = launcher("process.kill(process.pid, 'SIGKILL')");
    await l.launch('public.items');
    await waitUntil('the job ended', async () => !l.isRunning('public.items'));
    expect(failures).toEqual(['public.items: killed by SIGKILL']);
  });

  it('does not count a job that finishes, or one that close() stops', async () => {
    const ok = launcher('process.exit(0)');
    await ok.l.launch('public.a');
    await waitUntil('the job ended', async () => !ok.l.isRunning('public.a'));
    expect(ok.failures).toEqual([]);

    const long = launcher('setInterval(() => {}, 1000)');
    await long.l.launch('public.b');
    expect(long.l.isRunning('public.b')).toBe(true);
    await long.l.close();
    expect(long.l.isRunning('public.b')).toBe(false);
    expect(long.failures).toEqual([]);
  });

  it('reports a job that could not start', async () => {
    const failures: string[] = [];
    const l = new ChildProcessLauncher('/nonexistent/skytools', [], undefined, undefined, (t, r) =>
      failures.push(`${t}: ${r}`),
    );
    await expect(l.launch('public.c')).rejects.toThrow(/ENOENT/);
    expect(l.isRunning('public.c')).toBe(false);
    expect(failures).toEqual([expect.stringMatching(/^public\.c: could not start: .*ENOENT/)]);
  });
});

describe('createCopyLauncher (launcher = child)', () => {
  const dir = '/tmp/aws/launcher-child';
  const argv1 = process.argv[1];
  afterAll(() => {
    process.argv[1] = argv1 ?? '';
  });

  it("passes the worker's failure hook to the child-process launcher", async () => {
    // copyCommand starts this same program (process.argv[1]) with `londiste copy <table>`: here a
    // script that fails as a copy job would.
    mkdirSync(dir, { recursive: true });
    const script = path.join(dir, 'failing-copy.mjs');
    writeFileSync(script, 'process.exit(process.argv.includes("copy") ? 5 : 0);\n');
    process.argv[1] = script;
    const cfg = loadLondisteEnvConfig({
      LONDISTE_QUEUE: 'lq',
      LONDISTE_JOB_NAME: 'w_leaf',
      DATABASE_URL: 'postgres://localhost/none',
      LONDISTE_LAUNCHER: 'child',
    });
    const failures: string[] = [];
    const l = await createCopyLauncher(cfg, silentLogger, {
      onFailure: (t, r) => failures.push(`${t}: ${r}`),
    });
    expect(l).toBeInstanceOf(ChildProcessLauncher);
    await l.launch('public.orders');
    await waitUntil('the copy job ended', async () => !(await l.isRunning?.('public.orders')));
    expect(failures).toEqual(['public.orders: exit code 5']);
  });
});
