// WAL segments made up for tests that need no cluster: random bytes behind a first page header
// that checkSegment accepts (PostgreSQL 15 magic, long header, the page address the name implies).
import { randomBytes } from 'node:crypto';

export function fakeSegment(name: string, sysid: string, segSize = 1 << 20): Buffer {
  const buf = randomBytes(segSize);
  const n =
    (BigInt(`0x${name.slice(8, 16)}`) * 0x100000000n) / BigInt(segSize) + BigInt(`0x${name.slice(16, 24)}`);
  buf.writeUInt16LE(0xd110, 0);
  buf.writeUInt16LE(0x0002, 2); // XLP_LONG_HEADER
  buf.writeUInt32LE(Number.parseInt(name.slice(0, 8), 16), 4);
  buf.writeBigUInt64LE(n * BigInt(segSize), 8);
  buf.writeBigUInt64LE(BigInt(sysid), 24);
  buf.writeUInt32LE(segSize, 32);
  buf.writeUInt32LE(8192, 36);
  return buf;
}
