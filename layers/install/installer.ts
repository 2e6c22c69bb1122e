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
  // pgq may not be part of this manifest (e.g. pgq_ext alone): look before calling it.
  const has = await client.query<{ ok: boolean }>("select to_regproc('pgq.version') is not null as ok");
  const v = has.rows[0]?.ok
    ? await client.query<{ v: string | null }>('select pgq.version() as v')
    : { rows: [{ v: null }] };
  return { files, statements: chunks.length, pgqVersion: v.rows[0]?.v ?? null };
}

async function runChunk(client: pg.ClientBase, chunk: SqlChunk): Promise<void> {
  try {
    await client.query(chunk.text);
  } catch (err) {
    const e = err as Error & { position?: string; code?: string };
    let where = `${chunk.file}:${chunk.line}`;
    if (e.position) {
      const upTo = chunk.text.slice(0, Number(e.position));
      where = `${chunk.file}:${chunk.line + upTo.split('\n').length - 1}`;
    }
    throw new InstallError('sql_failed', `install failed at ${where}: ${e.message}`, { cause: err });
  }
}
