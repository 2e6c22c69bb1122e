// Installs or upgrades the SQL modules from TypeScript, without psql. Runs the same manifest
// as `psql -f sql/install.sql`, in one transaction, so a failed install changes nothing.
import type pg from 'pg';
import { InstallError } from '../errors/domains.ts';
import { loadManifest, type SqlChunk } from './manifest.ts';

// InstallError is part of the shared error scheme (layers/errors/).
export { InstallError } from '../errors/domains.ts';

export interface InstallResult {
  files: string[];
  statements: number;
  pgqVersion: string | null;
  /** PgQ's version before this run; null when it was not installed. */
  previousVersion: string | null;
  /** What this run did to PgQ: a first install, an upgrade, or a re-run over the same version. */
  outcome: 'installed' | 'upgraded' | 'current';
}

async function pgqVersion(client: pg.ClientBase): Promise<string | null> {
  // pgq may not be part of this manifest (e.g. pgq_ext alone): look before calling it.
  const has = await client.query<{ ok: boolean }>("select to_regproc('pgq.version') is not null as ok");
  if (!has.rows[0]?.ok) return null;
  return (await client.query<{ v: string | null }>('select pgq.version() as v')).rows[0]?.v ?? null;
}

export async function install(
  client: pg.ClientBase,
  opts: {
    manifest?: string;
    onProgress?: (file: string) => void;
    /** Statements to run instead of reading the manifest from sql/ (bundles: generated-sql.ts). */
    chunks?: readonly SqlChunk[];
  } = {},
): Promise<InstallResult> {
  const chunks = opts.chunks ?? loadManifest(opts.manifest ?? 'install.sql');
  const previousVersion = await pgqVersion(client);
  const files: string[] = [];
  const seen = new Set<string>();
  // install.sql carries its own begin/commit; if a chunk fails we roll back so nothing changes.
  try {
    for (const chunk of chunks) {
      if (!seen.has(chunk.file)) {
        seen.add(chunk.file);
        files.push(chunk.file);
        opts.onProgress?.(chunk.file);
      }
      await runChunk(client, chunk);
    }
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  }
  const version = await pgqVersion(client);
  const outcome =
    previousVersion === null ? 'installed' : previousVersion === version ? 'current' : 'upgraded';
  return { files, statements: chunks.length, pgqVersion: version, previousVersion, outcome };
}

async function runChunk(client: pg.ClientBase, chunk: SqlChunk): Promise<void> {
  try {
    await client.query(chunk.text);
  } catch (err) {
    const e = err as Error & { position?: string; where?: string; hint?: string; detail?: string };
    const at = `${chunk.file}:${chunk.line + lineInChunk(chunk.text, e)}`;
    // psql shows the server's DETAIL and HINT; so do we — the hint often says what to do.
    const more = [e.detail ? `DETAIL: ${e.detail}` : '', e.hint ? `HINT: ${e.hint}` : ''].filter(Boolean);
    throw new InstallError('sql_failed', [`install failed at ${at}: ${e.message}`, ...more].join('\n'), {
      cause: err,
    });
  }
}

/** 0-based line of the failing statement within a chunk: from the error position, or for an
 * error raised inside a DO block from PL/pgSQL's "line N" counted from the block's opening. */
function lineInChunk(text: string, e: { position?: string; where?: string }): number {
  const linesBefore = (offset: number) => text.slice(0, offset).split('\n').length - 1;
  if (e.position) return linesBefore(Number(e.position));
  const inBlock = /inline_code_block line (\d+)/.exec(e.where ?? '');
  const opening = /\bdo\s+\$[A-Za-z_]*\$/i.exec(text);
  if (inBlock && opening) return linesBefore(opening.index + opening[0].length) + Number(inBlock[1]) - 1;
  return 0;
}
