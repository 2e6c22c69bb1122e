// The CLI's start as a second OS user: archive_command and backups run as postgres, while root
// (or another user) may have created Node's shared compile cache directory first. Then the CLI
// falls back to a directory of its own instead of stripping and compiling every module on each
// start.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, tempDir } from './harness.ts';

const run = promisify(execFile);

describe('skytools compile cache', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('uses a per-user directory when the shared one cannot be written', async () => {
    const tmp = await tempDir('cc');
    dirs.push(tmp);
    // The shared directory exists and is not writable for us (mode 0555; root ignores modes,
    // so a path below a regular file stands in for it there).
    const shared = path.join(tmp, 'node-compile-cache');
    mkdirSync(shared, { mode: 0o555 });
    const blocked = process.getuid?.() === 0 ? path.join(CLI, 'not-a-dir') : shared;
    const env = { ...process.env, TMPDIR: tmp, NODE_COMPILE_CACHE: blocked };
    const r = await run(process.execPath, [CLI, 'walmgr', '--help'], { env });
    expect(r.stdout).toContain('walmgr');
    const own = path.join(tmp, `node-compile-cache-${process.getuid?.() ?? 'user'}`);
    expect(existsSync(own)).toBe(true);
    // Filled: the modules of this start were written there.
    expect(readdirSync(own).length).toBeGreaterThan(0);
  });
});
