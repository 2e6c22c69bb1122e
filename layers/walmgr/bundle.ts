// Bundles (manifest format 2): backup stores small files together, a few objects instead of one
// per file. Most of a cluster's ~970 files are a few KiB (catalogs, FSM/VM forks, pg_xact,
// config), and one GET (and PUT) each was most of a restore's request count and of its
// per-request CPU (in the bench's cluster: 967 of 969 files now in one bundle, ~970 requests
// fewer). Each file is still compressed on its own and listed in the manifest with its bundle,
// offset, stored length, size and SHA-256, so restore (fetch-backup.ts) checks every file as
// before and a diff/incr backup can refer to single files of an older bundle.
import type { Storage } from '../storage/types.ts';
import { bundleKey } from './layout.ts';

/** A bundle is stored once it holds this much (compressed). */
export const BUNDLE_TARGET = 16 * 1024 * 1024;
/** Files whose compressed body is larger go to an object of their own. */
export const BUNDLE_FILE_MAX = 1024 * 1024;

export interface BundlePlace {
  n: number;
  offset: number;
}

/**
 * Collects compressed bodies of one backup into bundles `0, 1, …` (layout.ts bundleKey).
 * `add` returns once the file's bundle is stored when the add filled it, else at once (the
 * place is final, the bytes are stored by a later add or by `finish`). Backup awaits `finish`
 * before writing the manifest, so a manifest never names a bundle that is not stored.
 */
export class BundleWriter {
  private readonly storage: Storage;
  private readonly sysid: string;
  private readonly id: string;
  private readonly metadata: Record<string, string>;
  private n = 0;
  private parts: Buffer[] = [];
  private size = 0;
  private readonly stores: Promise<void>[] = [];

  constructor(storage: Storage, sysid: string, id: string, metadata: Record<string, string>) {
    this.storage = storage;
    this.sysid = sysid;
    this.id = id;
    this.metadata = metadata;
  }

  /** Whether a compressed body of this length goes into a bundle. */
  static takes(storedSize: number): boolean {
    return storedSize <= BUNDLE_FILE_MAX;
  }

  async add(body: Buffer): Promise<BundlePlace> {
    const place = { n: this.n, offset: this.size };
    // A copy: compress() may return a view of a buffer its caller reuses.
    this.parts.push(Buffer.from(body));
    this.size += body.length;
    if (this.size >= BUNDLE_TARGET) await this.store();
    return place;
  }

  /** Stores the last, partly filled bundle and waits for every bundle to be stored. */
  async finish(): Promise<void> {
    if (this.size > 0) void this.store();
    await Promise.all(this.stores);
  }

  private store(): Promise<void> {
    const body = Buffer.concat(this.parts, this.size);
    const key = bundleKey(this.sysid, this.id, this.n);
    this.n++;
    this.parts = [];
    this.size = 0;
    const p = this.storage.put(key, body, { metadata: this.metadata }).then(() => {});
    // finish() reports a failure too; never an unhandled rejection in between.
    p.catch(() => {});
    this.stores.push(p);
    return p;
  }
}
