// Where a backup's time goes: wall time per stage (and this process's CPU over all of them),
// printed with the backup's last line. The fixed cost of a small incremental backup — the CLI's
// start, the checkpoint, waiting for the archiver — is invisible in a total; named per stage, it
// can be measured on a loaded machine and compared between runs.

export interface StageClock {
  /** Ends the stage in progress (if any) and starts `name`. */
  begin(name: string): void;
  /** Ends the stage in progress. */
  end(): void;
  /** Records `name`, which took `ms` alongside the other stages (not one of the sequence). */
  aside(name: string, ms: number): void;
  /** `cli start 0.41 s, checkpoint 0.12 s, … (CPU 1.20 s)`. */
  summary(): string;
}

export function stageClock(now: () => number = () => performance.now()): StageClock {
  const done: [string, number][] = [];
  const cpu0 = process.cpuUsage();
  let current: { name: string; at: number } | null = null;
  const end = () => {
    if (current) done.push([current.name, now() - current.at]);
    current = null;
  };
  return {
    begin(name) {
      end();
      current = { name, at: now() };
    },
    end,
    aside(name, ms) {
      done.push([`${name} (alongside)`, ms]);
    },
    summary() {
      const cpu = process.cpuUsage(cpu0);
      const parts = done.map(([n, ms]) => `${n} ${(ms / 1000).toFixed(2)} s`);
      return `${parts.join(', ')} (this process: CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s since the backup began)`;
    },
  };
}
