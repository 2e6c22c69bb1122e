// Positional reads that fill the buffer: fh.read may return fewer bytes than asked.
import type fs from 'node:fs/promises';

/** Reads up to `len` bytes at `pos` into `buf`; returns how many (fewer only at end of file). */
export async function readAt(fh: fs.FileHandle, buf: Buffer, len: number, pos: number): Promise<number> {
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}
