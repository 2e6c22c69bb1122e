// A pidfile that belongs to one running process: taken atomically, refused while the process
// it names is alive (as the original pgqd does), taken over when that process is gone, and
// removed on release only if it still names us — so a second daemon started by mistake can
// neither steal nor delete the running one's pidfile.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { ConfigError } from '../errors/domains.ts';

/** A ConfigError of kind 'busy': the configured pidfile is held by a live process. */
export class PidfileBusyError extends ConfigError {
  override name = 'PidfileBusyError';
  readonly pid: number;
  constructor(file: string, pid: number) {
    super(
      `already running as pid ${pid} (pidfile ${file}); stop it first, or remove the pidfile if it is stale`,
      { kind: 'busy' },
    );
    this.pid = pid;
  }
}

function readPid(file: string): number | null {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Whether a process with this pid exists (ours or another user's: EPERM still means alive). */
export function processAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else — still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes our pid to `file`; throws PidfileBusyError when a live process holds it. Returns the release. */
export function claimPidfile(file: string): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = readPid(file);
      if (pid !== null && pid !== process.pid && processAlive(pid)) throw new PidfileBusyError(file, pid);
      rmSync(file, { force: true }); // stale: its process is gone
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    return () => {
      if (readPid(file) === process.pid) rmSync(file, { force: true });
    };
  }
  throw new ConfigError(`cannot take pidfile ${file}: another process keeps re-creating it`, {
    kind: 'busy',
  });
}
