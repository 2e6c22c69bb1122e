// The embedded server's data directory parent: made enterable for the server's OS user without
// ever taking a permission bit away (a data directory under /tmp or /dev/shm once turned
// /dev/shm into 0755, and the machine's other PostgreSQL clusters could no longer create their
// shared memory segments).
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { letServerIn } from '../../layers/dev/embedded.ts';

const mode = (p: string) => statSync(p).mode & 0o7777;

describe('letServerIn (the data directory parent)', () => {
  const dirs: string[] = [];
  const scratch = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'embedded-dir-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('keeps a shared sticky world-writable directory as it is', () => {
    const d = scratch();
    chmodSync(d, 0o1777);
    letServerIn(d);
    expect(mode(d)).toBe(0o1777);
  });

  it('adds only the search bit for others to a private directory', () => {
    const d = scratch();
    chmodSync(d, 0o700);
    letServerIn(d);
    expect(mode(d)).toBe(0o701);
  });

  it('creates a missing directory 0755', () => {
    const d = path.join(scratch(), 'a', 'b');
    letServerIn(d);
    expect(mode(d)).toBe(0o755);
  });
});
