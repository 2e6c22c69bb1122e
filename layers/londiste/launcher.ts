// How the main worker starts a table's copy job. The job is a LondisteWorker in copy mode with its
// own consumer; where it runs is the launcher's business: a child process here (the original's
// `londiste <ini> copy <table>`), in the same process for tests and the dev stack, an ECS task
// when deployed. Whatever runs it, the job takes its node lock first, so the main worker can tell
// a live job from a dead one (and relaunch it) without asking the launcher.
import { type ChildProcess, spawn } from 'node:child_process';
import type { Logger } from '../util/log.ts';

export interface CopyLauncher {
  /** Starts the copy job of `table`; resolves once it is started (the job runs on its own). */
  launch(table: string): Promise<void>;
  /**
   * True while a job this launcher started for `table` is still running or on its way (a hint; the
   * lock decides): an ECS task holds no lock while it is being provisioned.
   */
  isRunning?(table: string): boolean | Promise<boolean>;
  /** Stops the jobs it started (on shutdown). */
  close?(): Promise<void>;
}

/** Runs each copy job as a function in this process (tests, the dev stack). */
export class InProcessLauncher implements CopyLauncher {
  private readonly running = new Map<string, { stop: AbortController; done: Promise<void> }>();
  private readonly runJob: (table: string, signal: AbortSignal) => Promise<unknown>;
  private readonly log?: Logger;

  constructor(runJob: (table: string, signal: AbortSignal) => Promise<unknown>, log?: Logger) {
    this.runJob = runJob;
    this.log = log;
  }

  async launch(table: string) {
    if (this.running.has(table)) return;
    const stop = new AbortController();
    const done = this.runJob(table, stop.signal)
      .then(
        () => {},
        (err) => this.log?.error('copy job failed', { table, error: (err as Error).message }),
      )
      .finally(() => this.running.delete(table));
    this.running.set(table, { stop, done });
  }

  isRunning(table: string) {
    return this.running.has(table);
  }

  async close() {
    const jobs = [...this.running.values()];
    for (const j of jobs) j.stop.abort();
    await Promise.all(jobs.map((j) => j.done));
  }
}

/** Runs each copy job as a child process: `<argv…> <table>` (e.g. skytools londiste <ini> copy). */
export class ChildProcessLauncher implements CopyLauncher {
  private readonly children = new Map<string, ChildProcess>();
  private readonly command: string;
  private readonly args: readonly string[];
  private readonly log?: Logger;
  private readonly env?: NodeJS.ProcessEnv;
  private readonly onFailure?: (table: string, reason: string) => void;
  /** Children this launcher stopped itself (close): their exit is no failure. */
  private readonly stopping = new Set<ChildProcess>();

  /**
   * `env`: the children's environment (default this process's; the dev stack configures its copies
   * by it). `onFailure`: called when a copy job exits non-zero or by a signal it was not sent by
   * close() — the same CopyTaskFailures count the ECS launcher feeds (run-worker.ts).
   */
  constructor(
    command: string,
    args: readonly string[],
    log?: Logger,
    env?: NodeJS.ProcessEnv,
    onFailure?: (table: string, reason: string) => void,
  ) {
    this.command = command;
    this.args = args;
    this.log = log;
    this.env = env;
    this.onFailure = onFailure;
  }

  async launch(table: string) {
    if (this.children.has(table)) return;
    const child = spawn(this.command, [...this.args, table], {
      stdio: ['ignore', 'inherit', 'inherit'],
      ...(this.env ? { env: this.env } : {}),
    });
    this.children.set(table, child);
    // 'exit', or 'error' alone when it never started (and perhaps both): counted once.
    let ended = false;
    const end = (reason: string | null) => {
      if (ended) return;
      ended = true;
      this.children.delete(table);
      if (this.stopping.delete(child) || reason === null) return;
      this.log?.warn('copy job exited', { table, reason });
      this.onFailure?.(table, reason);
    };
    child.on('exit', (code, signal) =>
      end(code === 0 ? null : signal ? `killed by ${signal}` : `exit code ${code}`),
    );
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) => {
        end(`could not start: ${err.message}`);
        reject(err);
      });
    });
  }

  isRunning(table: string) {
    return this.children.has(table);
  }

  async close() {
    const kids = [...this.children.values()];
    await Promise.all(
      kids.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null) return resolve();
            c.once('exit', () => resolve());
            this.stopping.add(c);
            c.kill('SIGTERM');
          }),
      ),
    );
  }
}
