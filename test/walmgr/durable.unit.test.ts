// Restore's early flush (layers/walmgr/durable.ts Flusher): every queued file is fdatasynced
// (a file queued again while its sync runs is synced once more), done() waits for all of them
// and reports the first failure instead of dropping it; files below its minimum size are left
// to the final sync.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Flusher } from '../../layers/walmgr/durable.ts';

describe('Flusher', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skytools-flusher-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('syncs every queued file, coalescing repeats, and waits for all of them', async () => {
    const f = new Flusher(2);
    const files = Array.from({ length: 6 }, (_, i) => path.join(dir, `f${i}`));
    for (const p of files) writeFileSync(p, Buffer.alloc(100_000, 1));
    for (const p of files) f.file(p);
    for (const p of files) f.file(p); // again while queued or running
    const state = (f as unknown as { state: Map<string, unknown> }).state;
    expect(state.size).toBe(6);
    await f.done();
    expect(state.size).toBe(0);
    await f.done(); // idle: resolves at once
  });

  it('leaves files below its minimum size to the final sync', async () => {
    const f = new Flusher(2, 1000);
    const state = (f as unknown as { state: Map<string, unknown> }).state;
    f.file(path.join(dir, 'small-gone'), 999); // never opened: no ENOENT from done()
    expect(state.size).toBe(0);
    writeFileSync(path.join(dir, 'big'), Buffer.alloc(1000, 1));
    f.file(path.join(dir, 'big'), 1000);
    expect(state.size).toBe(1);
    await f.done();
  });

  it('reports the first failure from done()', async () => {
    const f = new Flusher();
    writeFileSync(path.join(dir, 'ok'), 'x');
    f.file(path.join(dir, 'ok'));
    f.file(path.join(dir, 'gone'));
    await expect(f.done()).rejects.toThrow(/ENOENT/);
  });
});
