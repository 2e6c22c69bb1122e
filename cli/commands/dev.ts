// `skytools dev` (npm start): the local stack — an embedded PostgreSQL (or DATABASE_URL), the
// schema, the ticker loop, the consumers of a config file, demo traffic, and a live status view
// until Ctrl-C. The embedded cluster's data directory is kept, so the next start resumes.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { connectClient, redactUrl } from '../../layers/db/connection.ts';
import { startEmbedded } from '../../layers/dev/embedded.ts';
import { loadDevConfig, type StackStatus, startStack } from '../../layers/dev/stack.ts';
import { percentile } from '../../layers/pgq/consumer-loop.ts';
import { createLogger } from '../../layers/util/log.ts';
import { sleep } from '../../layers/util/sleep.ts';

const DEFAULT_CONFIG = fileURLToPath(new URL('../../examples/dev/skytools-dev.ini', import.meta.url));
const DEV_DB = 'skytools_dev';

interface Flags {
  status: boolean;
  runFor?: string;
  serverless?: boolean;
}

export function register(program: Command): void {
  program
    .command('dev')
    .description('run the local stack: PostgreSQL, PgQ, ticker, consumers and a live status view')
    .argument('[config]', 'stack config (.ini)', DEFAULT_CONFIG)
    .option('--no-status', 'print a status line per period instead of the live view')
    .option('--run-for <seconds>', 'stop by itself after this many seconds')
    .option(
      '--serverless',
      'run the Lambda handlers instead of loops: ticker invocations, SQS wake-ups (local emulator or $AWS_ENDPOINT_URL), consumer drains',
    )
    .action(async (file: string, flags: Flags) => {
      const cfg = loadDevConfig(file);
      const tty = process.stdout.isTTY && flags.status;
      const log = createLogger({ level: process.env.LOG_LEVEL === 'debug' ? 'debug' : 'warn' });
      for (const w of cfg.warnings) log.warn(w);

      // Signals only request a stop; the finally below stops everything, the embedded server
      // last. SIGHUP too: the server is ours to stop (a closed terminal must not orphan it).
      const ac = new AbortController();
      const stopNow = () => ac.abort();
      process.on('SIGINT', stopNow);
      process.on('SIGTERM', stopNow);
      process.on('SIGHUP', stopNow);
      let url = cfg.database;
      let server: Awaited<ReturnType<typeof startEmbedded>> | null = null;
      if (!url) {
        say(`starting embedded PostgreSQL in ${path.relative(process.cwd(), cfg.dataDir) || cfg.dataDir} …`);
        server = await startEmbedded({
          dataDir: cfg.dataDir,
          persistent: true,
          port: cfg.port,
        });
        try {
          url = await ensureDatabase(server.url, DEV_DB);
        } catch (err) {
          await server.stop();
          throw err;
        }
      }
      let stack: Awaited<ReturnType<typeof startStack>> | null = null;
      try {
        say(
          `installing PgQ and starting the stack${flags.serverless ? ' (serverless: Lambda handlers over SQS)' : ''} on ${redactUrl(url)} …`,
        );
        if (!ac.signal.aborted)
          stack = await startStack(cfg, url, log, flags.serverless ? 'serverless' : 'loops');
        const until = flags.runFor ? Date.now() + Number(flags.runFor) * 1000 : Number.POSITIVE_INFINITY;
        let prev: StackStatus | undefined;
        while (stack && !ac.signal.aborted && Date.now() < until) {
          const status = await stack.status();
          if (tty) process.stdout.write(`\x1b[2J\x1b[H${render(status, url, cfg.tickerPeriodMs, prev)}`);
          else process.stdout.write(`${statusLine(status)}\n`);
          prev = { ...status, ticker: { ...status.ticker } }; // the stack updates its stats in place
          await sleep(Math.min(cfg.statusPeriodMs, until - Date.now()), ac.signal);
        }
      } finally {
        process.off('SIGINT', stopNow);
        process.off('SIGTERM', stopNow);
        process.off('SIGHUP', stopNow);
        say('\nstopping …');
        await stack?.stop();
        if (server) {
          await server.stop();
          say(`stopped; data kept in ${cfg.dataDir} (the next start resumes)`);
        } else {
          say('stopped');
        }
      }
    });
}

function say(msg: string) {
  process.stderr.write(`${msg}\n`);
}

async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = await connectClient({ connectionString: adminUrl, applicationName: 'skytools dev' });
  try {
    const r = await admin.query('select 1 from pg_database where datname = $1', [name]);
    if (r.rowCount === 0) await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

const ms = (v: number | null) => (v == null ? '-' : `${Math.round(v)}ms`);
const pad = (s: unknown, n: number) => String(s ?? '-').padEnd(n);
const padL = (s: unknown, n: number) => String(s ?? '-').padStart(n);
const shortInterval = (sec: number | null) =>
  sec == null
    ? '-'
    : sec < 1
      ? `${Math.round(sec * 1000)}ms`
      : sec < 120
        ? `${sec.toFixed(1)}s`
        : `${Math.round(sec / 60)}min`;

/** Ticks per second between two status snapshots (since the start when there is no earlier one). */
export function tickRate(s: StackStatus, prev?: StackStatus): number | null {
  const from = prev
    ? { at: prev.at.getTime(), ticks: prev.ticker.ticks }
    : { at: s.ticker.startedAt.getTime(), ticks: 0 };
  const sec = (s.at.getTime() - from.at) / 1000;
  return sec > 0 ? (s.ticker.ticks - from.ticks) / sec : null;
}

export function render(s: StackStatus, url: string, tickMs: number, prev?: StackStatus): string {
  const lines: string[] = [];
  const rate = tickRate(s, prev);
  lines.push(`skytools dev — ${redactUrl(url)}   (Ctrl-C to stop)   ${s.at.toISOString().slice(11, 19)}`);
  // PgQ makes a tick only when a queue has new events or its max lag passed, so the rate is
  // usually far below one per check: show both, or the period reads like a tick rate.
  lines.push(
    `ticker: checks every ${tickMs}ms · ${rate == null ? '-' : rate.toFixed(1)} ticks/s · ${s.ticker.ticks} ticks · ${s.ticker.maintSteps} maintenance steps · ${s.ticker.errors} errors`,
  );
  lines.push('');
  lines.push(
    `${pad('QUEUE', 16)}${padL('LAST TICK', 10)}${padL('TICK AGE', 11)}${padL('EV/S', 8)}${padL('NEW', 6)}${padL('TABLE', 7)}`,
  );
  for (const q of s.queues) {
    lines.push(
      `${pad(q.name, 16)}${padL(q.lastTick, 10)}${padL(shortInterval(q.tickerLag), 11)}${padL(q.evPerSec == null ? '-' : q.evPerSec.toFixed(1), 8)}${padL(q.evNew, 6)}${padL(q.table, 7)}`,
    );
  }
  lines.push('');
  lines.push(
    `${pad('CONSUMER', 16)}${pad('QUEUE', 14)}${padL('LAG', 10)}${padL('PENDING', 9)}${padL('BATCHES', 9)}${padL('EVENTS', 8)}${padL('LATENCY p50 / p99', 20)}`,
  );
  for (const c of s.consumers) {
    const lat = c.stats
      ? `${ms(percentile(c.stats.latencyMs, 50))} / ${ms(percentile(c.stats.latencyMs, 99))}`
      : '-';
    lines.push(
      `${pad(c.name, 16)}${pad(c.queue, 14)}${padL(shortInterval(c.lag), 10)}${padL(c.pending, 9)}${padL(c.stats?.batches, 9)}${padL(c.stats?.events, 8)}${padL(lat, 20)}`,
    );
    if (c.stats?.lastError) lines.push(`  last error: ${c.stats.lastError}`);
  }
  if (s.replication?.length) {
    lines.push('');
    lines.push(
      `${pad('LONDISTE NODE', 16)}${pad('TABLE', 24)}${pad('STATE', 16)}${padL('LAG', 10)}${padL('COPY', 16)}`,
    );
    for (const n of s.replication) {
      const lag = n.type === 'root' ? '-' : shortInterval(n.lag);
      if (!n.tables.length) lines.push(`${pad(`${n.node} (${n.type})`, 16)}${pad('(no tables)', 24)}`);
      for (const t of n.tables) {
        const copy =
          t.copiedRows === undefined
            ? ''
            : t.estimatedRows
              ? `${t.copiedRows} rows ${Math.min(100, Math.round((t.copiedRows / t.estimatedRows) * 100))}%`
              : `${t.copiedRows} rows`;
        lines.push(
          `${pad(`${n.node} (${n.type})`, 16)}${pad(t.name, 24)}${pad(t.state ?? 'waiting', 16)}${padL(lag, 10)}${padL(copy, 16)}`,
        );
      }
    }
  }
  lines.push('');
  lines.push('NEW: events since the last tick · TABLE: event table in use (rotates)');
  lines.push(
    'LAG: age of the last tick a consumer finished · PENDING: events not yet consumed · LATENCY: event time → handler',
  );
  if (s.replication?.length)
    lines.push(
      'LONDISTE: the root replicates into the leaf; STATE ok = replicating, in-copy … do-sync = initial copy',
    );
  return `${lines.join('\n')}\n`;
}

export function statusLine(s: StackStatus): string {
  const cons = s.consumers
    .map(
      (c) => `${c.name}: ${c.stats?.events ?? 0} events, p50 ${ms(percentile(c.stats?.latencyMs ?? [], 50))}`,
    )
    .join('; ');
  const repl = (s.replication ?? [])
    .filter((n) => n.type !== 'root')
    .flatMap((n) => n.tables.map((t) => `${n.node} ${t.name} ${t.state ?? 'waiting'}`))
    .join('; ');
  return `${s.at.toISOString().slice(11, 19)} ticks=${s.ticker.ticks} ${cons}${repl ? ` | londiste: ${repl}` : ''}`;
}
