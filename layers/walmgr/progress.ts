// Progress of a long transfer (backup, restore, verify): files and bytes done of the total, the
// rate since the start and the time left at that rate. On a terminal (stderr is a TTY) one line
// rewritten in place, a few times a second; anywhere else (a log file, journald, a CI job) one
// structured log line every interval (default 10 s), so logs stay readable and greppable.
import type { Logger } from '../util/log.ts';

export interface ProgressState {
  files: number;
  filesTotal: number;
  bytes: number;
  bytesTotal: number;
  /** Milliseconds since start(). */
  elapsedMs: number;
  /** Bytes per second since start(); 0 before any byte. */
  rate: number;
  /** Seconds left at the current rate; null while it cannot be estimated. */
  etaSeconds: number | null;
}

/** What the transfer calls; the command decides where it goes (progressMeter). */
export interface Progress {
  start(filesTotal: number, bytesTotal: number): void;
  /** Bytes done (a piece or a file), and whether a whole file is now finished. */
  add(bytes: number, fileDone: boolean): void;
  /** The final state (also shown/logged once). */
  finish(): ProgressState;
}

export interface MeterOptions {
  /** 'backup', 'restore', 'verify'. */
  label: string;
  /** Extra fields of every log line (e.g. the backup id). */
  fields?: Record<string, string>;
  /** A TTY gets the updating line; otherwise the logger gets periodic lines. */
  tty: { isTTY?: boolean; write(text: string): unknown; columns?: number };
  logger: Logger;
  /** Between log lines when not a TTY (default 10 000 ms). */
  intervalMs?: number;
  now?: () => number;
}

const MiB = 1024 * 1024;

function mib(n: number): string {
  return (n / MiB).toFixed(1);
}

/** `1:02:03` / `2:03`: the usual ETA shape. */
export function fmtDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function describeProgress(label: string, p: ProgressState): string {
  const pct = p.bytesTotal ? ` (${((100 * p.bytes) / p.bytesTotal).toFixed(1)}%)` : '';
  const eta = p.etaSeconds === null ? '' : `, ETA ${fmtDuration(p.etaSeconds)}`;
  return `${label}: ${p.files}/${p.filesTotal} files, ${mib(p.bytes)}/${mib(p.bytesTotal)} MiB${pct}, ${mib(p.rate)} MiB/s${eta}`;
}

/** A Progress that shows on a terminal or logs periodically (see the header). */
export function progressMeter(o: MeterOptions): Progress {
  const now = o.now ?? Date.now;
  const tty = Boolean(o.tty.isTTY);
  const every = tty ? 250 : (o.intervalMs ?? 10_000);
  let t0 = now();
  let last = t0;
  let files = 0;
  let bytes = 0;
  let filesTotal = 0;
  let bytesTotal = 0;
  let shown = false;
  const state = (): ProgressState => {
    const elapsedMs = now() - t0;
    const rate = elapsedMs > 0 ? (bytes * 1000) / elapsedMs : 0;
    const etaSeconds = rate > 0 ? Math.max(0, bytesTotal - bytes) / rate : null;
    return { files, filesTotal, bytes, bytesTotal, elapsedMs, rate, etaSeconds };
  };
  const emit = (final: boolean) => {
    const p = state();
    if (tty) {
      const line = describeProgress(o.label, p);
      const width = o.tty.columns ? o.tty.columns - 1 : line.length;
      o.tty.write(`\r\x1b[K${line.slice(0, width)}${final ? '\n' : ''}`);
      shown = !final;
      return;
    }
    o.logger.info(`${o.label} ${final ? 'finished' : 'progress'}`, {
      ...o.fields,
      files: p.files,
      filesTotal: p.filesTotal,
      bytes: p.bytes,
      bytesTotal: p.bytesTotal,
      mibPerSecond: Number(mib(p.rate)),
      ...(p.etaSeconds === null || final ? {} : { etaSeconds: Math.round(p.etaSeconds) }),
      elapsedSeconds: Math.round(p.elapsedMs / 100) / 10,
    });
  };
  return {
    start(f, b) {
      filesTotal = f;
      bytesTotal = b;
      t0 = now();
      last = t0;
    },
    add(b, fileDone) {
      bytes += b;
      if (fileDone) files++;
      const t = now();
      if (t - last >= every) {
        last = t;
        emit(false);
      }
    },
    finish() {
      // A terminal line ends with a newline; a quick transfer that never showed one logs once.
      if (tty ? shown || files > 0 : true) emit(true);
      return state();
    },
  };
}

/** For callers that want no progress (the Lambdas, tests of other parts). */
export const noProgress: Progress = {
  start() {},
  add() {},
  finish: () => ({
    files: 0,
    filesTotal: 0,
    bytes: 0,
    bytesTotal: 0,
    elapsedMs: 0,
    rate: 0,
    etaSeconds: null,
  }),
};
