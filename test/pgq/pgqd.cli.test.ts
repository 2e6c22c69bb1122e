// `skytools pgqd` as a process: config file with the original keys, ticking, retry and
// maintenance, clean exit on SIGTERM, reload on SIGHUP, bad config refused.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const cli = path.resolve(import.meta.dirname, '../../bin/skytools.ts');

describe('skytools pgqd', () => {
  it('ticks the configured database, writes its pidfile, and stops cleanly on SIGTERM', async () => {
    await db.query("select pgq.create_queue('cliq')");
    await db.query("select pgq.set_queue_config('cliq', 'ticker_max_lag', '0.01 seconds')");
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgqd-'));
    const u = new URL(db.url);
    const ini = path.join(dir, 'pgqd.ini');
    writeFileSync(
      ini,
      [
        '[pgqd]',
        `base_connstr = host=${u.hostname} port=${u.port} user=${u.username} password=${u.password}`,
        `database_list = ${db.name}`,
        'ticker_period = 50ms',
        'maint_period = 0.2',
        'retry_period = 0.2',
        `pidfile = ${dir}/pgqd.pid`,
        'syslog = 1',
        '',
      ].join('\n'),
    );
    const before = (await db.one("select last_tick_id as t from pgq.get_queue_info('cliq')")).t;
    const child = spawn(process.execPath, [cli, 'pgqd', ini], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    try {
      await db.query("select pgq.insert_event('cliq', 'T', 'x')");
      let after = before;
      for (let i = 0; i < 100 && after === before; i++) {
        await new Promise((r) => setTimeout(r, 50));
        after = (await db.one("select last_tick_id as t from pgq.get_queue_info('cliq')")).t;
      }
      expect(after).toBeGreaterThan(before);
      expect(readFileSync(path.join(dir, 'pgqd.pid'), 'utf8').trim()).toBe(String(child.pid));
      child.kill('SIGHUP');
      await new Promise((r) => setTimeout(r, 300));
      expect(stderr).toMatch(/config reloaded/);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(0);
    expect(stderr).toMatch(/"syslog" is accepted but ignored/);
    expect(existsSync(path.join(dir, 'pgqd.pid'))).toBe(false);
  });

  it('refuses a bad config value with a clear message', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgqd-'));
    const ini = path.join(dir, 'bad.ini');
    writeFileSync(ini, '[pgqd]\nticker_period = fast\n');
    const r = spawnSync(process.execPath, [cli, 'pgqd', ini], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ticker_period = "fast": expected seconds/);
    writeFileSync(ini, '[other]\n');
    const r2 = spawnSync(process.execPath, [cli, 'pgqd', ini], { encoding: 'utf8' });
    expect(r2.stderr).toMatch(/no \[pgqd\] section/);
  });

  it('refuses a pidfile held by a running pgqd and never deletes it; -q keeps INFO out of the logfile', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgqd-'));
    const u = new URL(db.url);
    const ini = path.join(dir, 'pgqd.ini');
    const pidfile = path.join(dir, 'pgqd.pid');
    const logfile = path.join(dir, 'pgqd.log');
    writeFileSync(
      ini,
      [
        '[pgqd]',
        `base_connstr = host=${u.hostname} port=${u.port} user=${u.username} password=${u.password}`,
        `database_list = ${db.name}`,
        'ticker_period = 50ms',
        `pidfile = ${pidfile}`,
        `logfile = ${logfile}`,
        '',
      ].join('\n'),
    );
    const first = spawn(process.execPath, [cli, 'pgqd', '-q', ini], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      for (let i = 0; i < 100 && !existsSync(pidfile); i++) await new Promise((r) => setTimeout(r, 50));
      expect(readFileSync(pidfile, 'utf8').trim()).toBe(String(first.pid));
      const second = spawnSync(process.execPath, [cli, 'pgqd', ini], { encoding: 'utf8', timeout: 30_000 });
      expect(second.status).not.toBe(0);
      expect(second.stderr).toMatch(
        new RegExp(`already running as pid ${first.pid} \\(pidfile ${pidfile}\\)`),
      );
      expect(readFileSync(pidfile, 'utf8').trim()).toBe(String(first.pid));
    } finally {
      first.kill('SIGTERM');
    }
    expect(await new Promise((r) => first.once('exit', r))).toBe(0);
    expect(existsSync(pidfile)).toBe(false);
    // -q: the stop message is INFO, so nothing of it reaches the logfile.
    const log = existsSync(logfile) ? readFileSync(logfile, 'utf8') : '';
    expect(log).not.toMatch(/INFO/);
  });

  it('takes over a stale pidfile whose process is gone', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgqd-'));
    const pidfile = path.join(dir, 'pgqd.pid');
    const { claimPidfile } = await import('../../layers/util/pidfile.ts');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(pidfile, `${dead}\n`);
    const release = claimPidfile(pidfile);
    expect(readFileSync(pidfile, 'utf8').trim()).toBe(String(process.pid));
    release();
    expect(existsSync(pidfile)).toBe(false);
  });

  it('prints a sample config with --ini', () => {
    const r = spawnSync(process.execPath, [cli, 'pgqd', '--ini'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\[pgqd\]/);
    expect(r.stdout).toMatch(/ticker_period/);
  });
});
