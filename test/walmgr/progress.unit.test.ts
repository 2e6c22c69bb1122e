// The progress meter: on a terminal one line rewritten in place (files, bytes, rate, ETA) and
// ended by a newline; elsewhere one structured log line per interval and one at the end.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../layers/util/log.ts';
import { describeProgress, fmtDuration, progressMeter } from '../../layers/walmgr/progress.ts';

const MiB = 1024 * 1024;

function clock() {
  let t = 1_000_000;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

describe('progress meter', () => {
  it('rewrites one line on a terminal with files, bytes, rate and ETA', () => {
    const c = clock();
    const out: string[] = [];
    const p = progressMeter({
      label: 'restore',
      tty: { isTTY: true, write: (t) => out.push(t) },
      logger: createLogger({ write: () => expect.unreachable('no log lines on a terminal') }),
      now: c.now,
    });
    p.start(4, 40 * MiB);
    c.advance(1000);
    p.add(10 * MiB, true);
    c.advance(100);
    p.add(1 * MiB, false); // under 250 ms since the last line: not shown
    c.advance(900);
    p.add(9 * MiB, true);
    expect(out).toEqual([
      '\r\x1b[Krestore: 1/4 files, 10.0/40.0 MiB (25.0%), 10.0 MiB/s, ETA 0:03',
      '\r\x1b[Krestore: 2/4 files, 20.0/40.0 MiB (50.0%), 10.0 MiB/s, ETA 0:02',
    ]);
    c.advance(2000);
    p.add(20 * MiB, true);
    const end = p.finish();
    expect(out.at(-1)).toBe('\r\x1b[Krestore: 3/4 files, 40.0/40.0 MiB (100.0%), 10.0 MiB/s, ETA 0:00\n');
    expect(end).toMatchObject({ files: 3, bytes: 40 * MiB, elapsedMs: 4000, rate: 10 * MiB });
  });

  it('logs a structured line per interval, then a final one, when not a terminal', () => {
    const c = clock();
    const lines: Record<string, unknown>[] = [];
    const tty: string[] = [];
    const p = progressMeter({
      label: 'backup X',
      fields: { backup: 'X' },
      tty: { isTTY: false, write: (t) => tty.push(t) },
      logger: createLogger({
        json: true,
        write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>),
      }),
      intervalMs: 10_000,
      now: c.now,
    });
    p.start(100, 100 * MiB);
    for (let i = 0; i < 30; i++) {
      c.advance(1000);
      p.add(MiB, true);
    }
    p.finish();
    expect(tty).toEqual([]);
    expect(lines.map((l) => l.msg)).toEqual([
      'backup X progress',
      'backup X progress',
      'backup X progress',
      'backup X finished',
    ]);
    expect(lines[0]).toMatchObject({
      level: 'info',
      backup: 'X',
      files: 10,
      filesTotal: 100,
      bytes: 10 * MiB,
      bytesTotal: 100 * MiB,
      mibPerSecond: 1,
      etaSeconds: 90,
      elapsedSeconds: 10,
    });
    expect(lines[3]).toMatchObject({ files: 30, elapsedSeconds: 30 });
    expect(lines[3]).not.toHaveProperty('etaSeconds');
  });

  it('formats durations and a state without a rate yet', () => {
    expect(fmtDuration(59.6)).toBe('1:00');
    expect(fmtDuration(3725)).toBe('1:02:05');
    expect(
      describeProgress('verify', {
        files: 0,
        filesTotal: 2,
        bytes: 0,
        bytesTotal: 0,
        elapsedMs: 0,
        rate: 0,
        etaSeconds: null,
      }),
    ).toBe('verify: 0/2 files, 0.0/0.0 MiB, 0.0 MiB/s');
  });
});
