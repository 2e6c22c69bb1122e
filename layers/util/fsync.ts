// fsync of one file or directory by path: what makes a rename or a written file survive a crash.
import fs from 'node:fs/promises';

export async function fsyncPath(p: string): Promise<void> {
  const fh = await fs.open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
