// The repository marker: a small object at the repository's root, written by `walmgr init`, that
// tells "this repository exists and is the one you meant" apart from a missing directory, an
// unmounted volume (an empty directory), a wrong bucket or prefix. Without it, every one of those
// looks like an empty archive: restore-wal would answer "not archived" (exit 1) and PostgreSQL
// would end recovery and promote early. Commands check it (repository.ts callers): restore-wal
// only when a segment is not found, archive once per process before its first upload, the others
// at start.
import type { Storage } from '../storage/types.ts';
import { StorageError } from '../storage/types.ts';

/** Key of the marker, relative to the repository root (prefix). */
export const MARKER_KEY = 'skytools-walmgr.json';

/** The repository format this code reads and writes. */
export const REPOSITORY_FORMAT = 1;

/** Metadata of the marker object: the format, so that a HEAD (a stat locally) checks it. */
const META_FORMAT = 'format';

export interface RepositoryMarker {
  format: number;
  /** Absent when written at deploy time (the WalArchive construct: a synth-time date would change every template). */
  createdAt?: string;
  createdBy: string;
}

/** The marker object as `walmgr init` and the WalArchive construct write it. */
export function markerObject(marker: Omit<RepositoryMarker, 'format'>): {
  body: string;
  metadata: Record<string, string>;
} {
  return {
    body: `${JSON.stringify({ format: REPOSITORY_FORMAT, ...marker }, null, 1)}\n`,
    metadata: { [META_FORMAT]: String(REPOSITORY_FORMAT) },
  };
}

/** What an error says to do: the repository given and how to initialise it. */
function initAdvice(): string {
  return (
    'check --repo (and --endpoint) name the repository, and that its volume is mounted; ' +
    'a new repository, or one created before walmgr init existed, is initialised with ' +
    '`skytools walmgr init` and the same --repo / --endpoint (on an existing repository it only writes the marker)'
  );
}

function notInitialised(storage: Storage): StorageError {
  return new StorageError(
    'invalid_repository',
    `${storage.description} is not an initialised walmgr repository (no ${MARKER_KEY} at its root): ${initAdvice()}`,
    { key: MARKER_KEY },
  );
}

/**
 * Throws unless the marker is there with a format this code reads. Storage errors (permission
 * denied, unreachable endpoint) propagate as they are: they are not "not initialised" either.
 */
export async function requireRepository(storage: Storage): Promise<void> {
  const info = await storage.head(MARKER_KEY);
  if (!info) throw notInitialised(storage);
  const format = Number(info.metadata[META_FORMAT]);
  if (!Number.isInteger(format) || format < 1)
    throw new StorageError(
      'invalid_repository',
      `${MARKER_KEY} in ${storage.description} carries no repository format: it was not written by walmgr init; remove it and run \`skytools walmgr init\` again`,
      { key: MARKER_KEY },
    );
  if (format > REPOSITORY_FORMAT)
    throw new StorageError(
      'invalid_repository',
      `${storage.description} has repository format ${format}, newer than this skytools reads (${REPOSITORY_FORMAT}); upgrade skytools`,
      { key: MARKER_KEY },
    );
}

/**
 * Writes the marker unless it is there (then checks it): idempotent. A local directory is
 * created; an S3 bucket must exist.
 */
export async function initRepository(
  storage: Storage,
  now: Date = new Date(),
): Promise<{ status: 'created' | 'exists' }> {
  const marker = markerObject({ createdAt: now.toISOString(), createdBy: 'skytools walmgr init' });
  const res = await storage.put(MARKER_KEY, Buffer.from(marker.body), {
    ifAbsent: true,
    metadata: marker.metadata,
  });
  if (res === 'exists') await requireRepository(storage);
  return { status: res === 'exists' ? 'exists' : 'created' };
}

/**
 * The storage with its writes held until the marker is checked — once, started at once so it
 * overlaps the caller's own first request (archive's HEAD of the segment, its compression).
 * Reads pass straight through: a found object needs no marker.
 */
export function checkedBeforeWrite(storage: Storage): Storage {
  const check = requireRepository(storage);
  // Awaited by the first write; a process that never writes must not die of an unhandled rejection.
  check.catch(() => {});
  return {
    description: storage.description,
    atomicIfAbsent: storage.atomicIfAbsent,
    put: async (key, body, opts) => {
      await check;
      return storage.put(key, body, opts);
    },
    get: (key) => storage.get(key),
    getStream: (key) => storage.getStream(key),
    head: (key) => storage.head(key),
    list: (prefix) => storage.list(prefix),
    listDelimited: (prefix, delimiter) => storage.listDelimited(prefix, delimiter),
    delete: async (key) => {
      await check;
      return storage.delete(key);
    },
    close: () => storage.close(),
  };
}
