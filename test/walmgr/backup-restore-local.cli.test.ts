// Backup → writes → restore (full, time, LSN) with the repository in a local directory; files
// over 64 KiB are stored in pieces, and a damaged piece is caught by verify and restore.
import { tempDir } from './harness.ts';
import { scenario } from './scenario.ts';

scenario(
  'walmgr on a local directory',
  async () => {
    const dir = await tempDir('repo');
    const { rmSync } = await import('node:fs');
    return { repoArgs: ['--repo', dir], done: async () => rmSync(dir, { recursive: true, force: true }) };
  },
  { pieceSize: '64k' },
);
