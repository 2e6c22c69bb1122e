// The one storage interface walmgr writes through. Keys are '/'-separated relative paths
// (no leading slash, no '..'); every backend maps them under its own root/prefix.
import type { Readable } from 'node:stream';
import type { ReaderSpec } from './direct-read.ts';

export interface ObjectInfo {
  key: string;
  size: number;
  /** User metadata (lower-case keys). May be empty from list() (S3); use head() when it matters. */
  metadata: Record<string, string>;
  lastModified?: Date;
}

export interface PutOptions {
  /** Small string map stored with the object (S3 user metadata; keys lower-case ASCII). */
  metadata?: Record<string, string>;
  /**
   * Write only if no object exists under the key. Backends that can do this atomically
   * (local directory; S3 with `If-None-Match: *`) report 'exists' instead of overwriting.
   * Callers that need the guarantee on backends without it check head() first as well.
   */
  ifAbsent?: boolean;
  /** Size of a stream body when known; lets S3 choose single PUT vs multipart. */
  size?: number;
}

export type PutResult = 'created' | 'exists';

/** A listing by delimiter: the objects directly under a prefix, and the "directories" beside them. */
export interface DelimitedListing {
  objects: ObjectInfo[];
  /** Full keys up to and including the delimiter's first occurrence after the prefix, distinct. */
  prefixes: string[];
}

export interface Storage {
  /** Where this storage points, for messages; never contains credentials. */
  readonly description: string;
  /** True when put({ ifAbsent }) is atomic on this backend. */
  readonly atomicIfAbsent: boolean;
  /** Returns once the object is durable. 'exists' only with ifAbsent and an existing object. */
  put(key: string, body: Buffer | Readable, opts?: PutOptions): Promise<PutResult>;
  /** The whole object, or null when no object exists under the key. */
  get(key: string): Promise<{ body: Buffer; info: ObjectInfo } | null>;
  /** A stream of the object, or null when no object exists under the key. */
  getStream(key: string): Promise<{ body: Readable; info: ObjectInfo } | null>;
  /** Size and metadata, or null when no object exists under the key. */
  head(key: string): Promise<ObjectInfo | null>;
  /** Every object whose key starts with prefix, sorted by key. Missing prefix → []. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /**
   * Keys starting with prefix as S3's ListObjectsV2 with a Delimiter gives them: every key whose
   * rest (after prefix) contains `delimiter` is rolled up into one entry of `prefixes` (the key
   * up to and including the delimiter's first occurrence there); the others are `objects`. So a
   * "directory" of a thousand objects costs one entry, not a thousand (walmgr's backup names:
   * `listBackupRefs`). Both sorted by key; a missing prefix gives both empty.
   */
  listDelimited(prefix: string, delimiter: string): Promise<DelimitedListing>;
  /** Removes the object; deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * What a worker thread needs to read objects itself without this object (direct-read.ts):
   * endpoint, resolved credentials, root. Optional; absent: read through get().
   */
  readerSpec?(): Promise<ReaderSpec>;
  /** Releases sockets/handles. */
  close(): void;
}

// StorageError is part of the shared error scheme (layers/errors/): kind 'invalid_key' or 'io'.
import { StorageError } from '../errors/domains.ts';

export type { StorageErrorKind } from '../errors/domains.ts';
export { StorageError };

export function checkKey(key: string): string {
  if (!key || key.startsWith('/') || key.split('/').some((p) => p === '..' || p === '.' || p === '')) {
    throw new StorageError(
      'invalid_key',
      `invalid storage key ${JSON.stringify(key)}: use a relative path without '.', '..' or empty parts`,
      { key },
    );
  }
  return key;
}
