// Test support: damage one byte of a backed-up file wherever its bytes are stored (its own
// object, its first piece, or its place in a bundle of manifest format 2), in the backup that
// holds them. Returns the key that was changed.
import type { Storage } from '../../layers/storage/types.ts';
import { backupFileKey, bundleKey, pieceKey } from '../../layers/walmgr/layout.ts';
import type { Manifest } from '../../layers/walmgr/manifest.ts';

export async function damageStoredFile(storage: Storage, m: Manifest, path: string): Promise<string> {
  const f = m.files.find((x) => x.path === path);
  if (!f) throw new Error(`${path} is not in backup ${m.id}`);
  const holder = f.ref ?? m.id;
  const whole = backupFileKey(m.systemId, holder, path);
  const [key, start, len] = f.bundle
    ? [bundleKey(m.systemId, holder, f.bundle.n), f.bundle.offset, f.storedSize]
    : f.pieces
      ? [pieceKey(backupFileKey(m.systemId, f.pieces[0]!.ref ?? m.id, path), 0), 0, f.pieces[0]!.storedSize]
      : [whole, 0, f.storedSize];
  const obj = await storage.get(key);
  if (!obj) throw new Error(`${key} is not stored`);
  const body = Buffer.from(obj.body);
  body[start + (len >> 1)]! ^= 0xff;
  await storage.put(key, body, { metadata: obj.info.metadata });
  return key;
}
