// Local-directory backend. Each object is one file: a header line `SKYOBJ1 <json metadata>\n`
// followed by the body, so data and metadata appear together in a single atomic rename/link.
// Writes go to a temp file in the target directory, are fsynced, then renamed (or hard-linked
// for ifAbsent, which fails atomically when the name exists); the directory is fsynced after.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fsyncPath } from '../util/fsync.ts';
import type { ReaderSpec } from './direct-read.ts';
import {
  checkKey,
  type DelimitedListing,
  type ObjectInfo,
  type PutOptions,
  type PutResult,
  type Storage,
  StorageError,
} from './types.ts';

const MAGIC = 'SKYOBJ1 ';
const TMP_MARK = '.skytmp.';

function isNotFound(err: unknown): boolean {
  return (
    (err as NodeJS.ErrnoException)?.code === 'ENOENT' || (err as NodeJS.ErrnoException)?.code === 'ENOTDIR'
  );
}

export class LocalStorage implements Storage {
  readonly description: string;
  readonly atomicIfAbsent = true;
  private readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.description = `local directory ${this.root}`;
  }

  /**
   * When we run as root in a repository owned by another user (typically `walmgr backup` run
   * by root while PostgreSQL's archive_command runs as postgres), what we create gets the
   * repository's owner: a root-owned directory would make the archiver fail (and a backup
   * wait for it) and root-owned files would be unreadable to a restore run as postgres.
   */
  private ownerChecked = false;
  private owner: { uid: number; gid: number } | null = null;

  private async repoOwner(): Promise<{ uid: number; gid: number } | null> {
    if (!this.ownerChecked) {
      this.ownerChecked = true;
      if (process.getuid?.() === 0) {
        const st = await fs.stat(this.root).catch(() => null);
        if (st && st.uid !== 0) this.owner = { uid: st.uid, gid: st.gid };
      }
    }
    return this.owner;
  }

  /** mkdir -p, giving the directories it created the repository's owner (see repoOwner). */
  private async makeDir(dir: string): Promise<void> {
    const first = await fs.mkdir(dir, { recursive: true });
    const owner = await this.repoOwner();
    if (!first || !owner) return;
    for (let d = dir; ; d = path.dirname(d)) {
      await fs.chown(d, owner.uid, owner.gid);
      if (d === first || d === path.dirname(d)) break;
    }
  }

  private file(key: string): string {
    return path.join(this.root, checkKey(key));
  }

  async put(key: string, body: Buffer | Readable, opts: PutOptions = {}): Promise<PutResult> {
    const target = this.file(key);
    const dir = path.dirname(target);
    try {
      await this.makeDir(dir);
      if (opts.ifAbsent && (await this.exists(target))) return 'exists';
      const tmp = `${target}${TMP_MARK}${process.pid}.${randomBytes(4).toString('hex')}`;
      const header = Buffer.from(`${MAGIC}${JSON.stringify(opts.metadata ?? {})}\n`);
      try {
        const fh = await fs.open(tmp, 'wx', 0o600);
        try {
          const owner = await this.repoOwner();
          if (owner) await fh.chown(owner.uid, owner.gid);
          if (Buffer.isBuffer(body)) {
            await fh.writev([header, body]);
          } else {
            await fh.write(header);
            await pipeline(body, createWriteStream('', { fd: fh.fd, autoClose: false }));
          }
          await fh.sync();
        } finally {
          await fh.close();
        }
        if (opts.ifAbsent) {
          try {
            await fs.link(tmp, target);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
            throw err;
          }
        } else {
          await fs.rename(tmp, target);
        }
      } finally {
        await fs.rm(tmp, { force: true });
      }
      await fsyncPath(dir);
      return 'created';
    } catch (err) {
      throw new StorageError(
        'io',
        `writing ${key} to ${this.description} failed: ${(err as Error).message}; check the directory exists and is writable`,
        { key, cause: err },
      );
    }
  }

  private async exists(file: string): Promise<boolean> {
    try {
      await fs.stat(file);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Reads the header; returns metadata and the body offset, or null when the file is missing. */
  private async readHeader(key: string, file: string): Promise<{ info: ObjectInfo; offset: number } | null> {
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(file, 'r');
    } catch (err) {
      if (isNotFound(err)) return null;
      throw new StorageError(
        'io',
        `reading ${key} from ${this.description} failed: ${(err as Error).message}`,
        {
          key,
          cause: err,
        },
      );
    }
    try {
      const st = await fh.stat();
      const buf = Buffer.alloc(Math.min(65536, st.size));
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      const nl = buf.subarray(0, bytesRead).indexOf(10);
      if (nl < 0 || buf.subarray(0, MAGIC.length).toString() !== MAGIC) {
        throw new StorageError(
          'io',
          `${file} is not an object written by skytools storage (bad header); remove it or point the repository elsewhere`,
          { key },
        );
      }
      const metadata = JSON.parse(buf.subarray(MAGIC.length, nl).toString()) as Record<string, string>;
      const offset = nl + 1;
      return { info: { key, size: st.size - offset, metadata, lastModified: st.mtime }, offset };
    } finally {
      await fh.close();
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    return (await this.readHeader(key, this.file(key)))?.info ?? null;
  }

  async get(key: string): Promise<{ body: Buffer; info: ObjectInfo } | null> {
    const file = this.file(key);
    const h = await this.readHeader(key, file);
    if (!h) return null;
    const all = await fs.readFile(file);
    return { body: all.subarray(h.offset), info: { ...h.info, size: all.length - h.offset } };
  }

  async getStream(key: string): Promise<{ body: Readable; info: ObjectInfo } | null> {
    const file = this.file(key);
    const h = await this.readHeader(key, file);
    if (!h) return null;
    return { body: createReadStream(file, { start: h.offset }), info: h.info };
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    return (await this.#walk(prefix, null)).objects;
  }

  listDelimited(prefix: string, delimiter: string): Promise<DelimitedListing> {
    return this.#walk(prefix, delimiter);
  }

  /** The objects under `prefix`; with a delimiter, those past it rolled up into prefixes (S3's way). */
  async #walk(prefix: string, delimiter: string | null): Promise<DelimitedListing> {
    const objects: ObjectInfo[] = [];
    const prefixes = new Set<string>();
    /** The rolled-up prefix of a key (or a directory's key + '/'), or null when it has none. */
    const rollUp = (k: string) => {
      if (delimiter === null || !k.startsWith(prefix)) return null;
      const i = k.indexOf(delimiter, prefix.length);
      return i < 0 ? null : k.slice(0, i + delimiter.length);
    };
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      for (const e of entries) {
        const k = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          // A directory whose path already holds the delimiter is one prefix: not walked.
          const p = rollUp(`${k}/`);
          if (p) prefixes.add(p);
          else if (prefix.startsWith(`${k}/`) || `${k}/`.startsWith(prefix))
            await walk(path.join(dir, e.name), k);
        } else if (e.isFile() && k.startsWith(prefix) && !e.name.includes(TMP_MARK)) {
          const p = rollUp(k);
          if (p) {
            prefixes.add(p);
            continue;
          }
          const h = await this.readHeader(k, path.join(dir, e.name)).catch(() => null);
          if (h) objects.push(h.info);
        }
      }
    };
    await walk(this.root, '');
    const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    objects.sort((a, b) => byKey(a.key, b.key));
    return { objects, prefixes: [...prefixes].sort(byKey) };
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.file(key), { force: true });
  }

  async readerSpec(): Promise<ReaderSpec> {
    return { kind: 'local', description: this.description, root: this.root, magic: MAGIC };
  }

  close(): void {}
}
