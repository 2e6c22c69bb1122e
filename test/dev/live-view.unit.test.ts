// The live view of `npm start`: the real tick rate beside the ticker's check period, and a legend.
import { describe, expect, it } from 'vitest';
import { render, statusLine, tickRate } from '../../cli/commands/dev.ts';
import type { StackStatus } from '../../layers/dev/stack.ts';

function status(at: number, ticks: number): StackStatus {
  return {
    at: new Date(at),
    queues: [{ name: 'demo_orders', lastTick: 10n, tickerLag: 0.2, evPerSec: 5, evNew: 0n, table: 0 }],
    consumers: [{ queue: 'demo_orders', name: 'order_audit', lag: 0.3, pending: 0n, lastSeen: 0.1 }],
    ticker: {
      database: 'd',
      ran: true,
      tickerCalls: 500,
      polls: 0,
      ticks,
      passMs: 0,
      retried: 0,
      maintSteps: 0,
      errors: 0,
      startedAt: new Date(0),
    },
  };
}

describe('live view', () => {
  it('shows ticks per second measured between two snapshots, not the check period', () => {
    const prev = status(10_000, 40);
    const now = status(12_000, 48);
    expect(tickRate(now, prev)).toBe(4);
    expect(tickRate(prev)).toBe(4); // since the start
    const text = render(now, 'postgres://u:secret@h:5432/db', 10, prev);
    expect(text).toMatch(/ticker: checks every 10ms · 4\.0 ticks\/s · 48 ticks/);
    expect(text).not.toContain('secret');
  });

  it('explains its columns in a legend', () => {
    const text = render(status(1000, 1), 'postgres://h/db', 10);
    expect(text).toMatch(/NEW: events since the last tick · TABLE: event table in use/);
  });

  it("shows each Londiste node's tables, states, copy progress and the leaf's lag", () => {
    const s = {
      ...status(1000, 1),
      replication: [
        { node: 'root', type: 'root' as const, lag: null, tables: [{ name: 'demo.orders', state: 'ok' }] },
        {
          node: 'leaf',
          type: 'leaf' as const,
          lag: 0.4,
          tables: [
            { name: 'demo.orders', state: 'ok' },
            { name: 'demo.big', state: 'in-copy', copiedRows: 2500, estimatedRows: 10_000 },
          ],
        },
      ],
    };
    const text = render(s, 'postgres://h/db', 10);
    expect(text).toMatch(/^root \(root\)\s+demo\.orders\s+ok\s+-\s*$/m);
    expect(text).toMatch(/^leaf \(leaf\)\s+demo\.orders\s+ok\s+400ms\s*$/m);
    expect(text).toMatch(/^leaf \(leaf\)\s+demo\.big\s+in-copy\s+400ms\s+2500 rows 25%$/m);
    expect(statusLine(s)).toMatch(/\| londiste: leaf demo\.orders ok; leaf demo\.big in-copy$/);
  });
});
