// Tablespaces on restore: where each one goes (its original location, or where
// --tablespace-map oid=path / name=path says), checked before anything is written, then the
// pg_tblspc/<oid> links and the tablespace_map PostgreSQL reads when recovery starts (it re-creates
// the links from that file, so both must name the same places).
import fs from 'node:fs/promises';
import path from 'node:path';
import { WalError } from './errors.ts';
import type { Manifest, ManifestTablespace } from './manifest.ts';

export interface TablespaceTarget extends ManifestTablespace {
  /** Where it is restored (absolute). */
  target: string;
}

/** `oid=path` or `name=path` entries of --tablespace-map, as given. */
export function parseTablespaceMap(entries: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of entries) {
    const i = e.indexOf('=');
    const key = i > 0 ? e.slice(0, i).trim() : '';
    const dir = i > 0 ? e.slice(i + 1).trim() : '';
    if (!key || !dir)
      throw new WalError(
        'invalid',
        `--tablespace-map ${JSON.stringify(e)}: use oid=/new/path or name=/new/path`,
      );
    if (!path.isAbsolute(dir))
      throw new WalError('invalid', `--tablespace-map ${JSON.stringify(e)}: the path must be absolute`);
    if (out.has(key)) throw new WalError('invalid', `--tablespace-map names ${key} twice`);
    out.set(key, path.normalize(dir));
  }
  return out;
}

/**
 * Where each of the backup's tablespaces goes; refuses a map entry that names no tablespace of
 * the backup, two tablespaces in one place, and a target that is not an empty or absent
 * directory under an existing parent. Reads only: nothing is changed when it throws.
 */
export async function planTablespaces(
  m: Manifest,
  map: ReadonlyMap<string, string>,
  pgdata: string,
): Promise<TablespaceTarget[]> {
  const spcs = m.tablespaces ?? [];
  const known = spcs.map((t) => `${t.oid}${t.name ? ` (${t.name})` : ''}`).join(', ') || 'none';
  for (const key of map.keys()) {
    if (!spcs.some((t) => String(t.oid) === key || t.name === key))
      throw new WalError(
        'invalid',
        `--tablespace-map ${key}: backup ${m.id} has no such tablespace (its tablespaces: ${known})`,
      );
  }
  const plan = spcs.map((t) => ({
    ...t,
    target: map.get(String(t.oid)) ?? (t.name ? map.get(t.name) : undefined) ?? t.location,
  }));
  const seen = new Map<string, number>();
  const data = path.resolve(pgdata);
  for (const t of plan) {
    if (!path.isAbsolute(t.target))
      throw new WalError(
        'invalid',
        `tablespace ${t.oid} was at the relative path ${t.target}; give --tablespace-map ${t.oid}=/absolute/path`,
      );
    const other = seen.get(t.target);
    if (other !== undefined)
      throw new WalError(
        'invalid',
        `tablespaces ${other} and ${t.oid} would both be restored into ${t.target}; give each its own --tablespace-map`,
      );
    seen.set(t.target, t.oid);
    const rel = path.relative(data, t.target);
    if (rel === '' || !rel.startsWith('..'))
      throw new WalError(
        'invalid',
        `tablespace ${t.oid} target ${t.target} is inside the data directory ${pgdata}; choose a directory outside it`,
      );
    await checkTarget(t);
  }
  return plan;
}

async function checkTarget(t: TablespaceTarget): Promise<void> {
  const hint = `; restore it elsewhere with --tablespace-map ${t.oid}=/new/path`;
  const st = await fs.stat(t.target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (st) {
    if (!st.isDirectory())
      throw new WalError('invalid', `tablespace ${t.oid} target ${t.target} is not a directory${hint}`);
    if ((await fs.readdir(t.target)).length > 0)
      throw new WalError(
        'invalid',
        `tablespace ${t.oid} target ${t.target} is not empty (in use by another server?)${hint}`,
      );
    return;
  }
  const parent = await fs.stat(path.dirname(t.target)).catch(() => null);
  if (!parent?.isDirectory())
    throw new WalError(
      'invalid',
      `tablespace ${t.oid} target ${t.target} does not exist and neither does its parent directory${hint}`,
    );
}

/** Creates each target (0700, as PostgreSQL wants) and the pg_tblspc/<oid> link to it. */
export async function linkTablespaces(plan: readonly TablespaceTarget[], pgdata: string): Promise<void> {
  if (plan.length === 0) return;
  await fs.mkdir(path.join(pgdata, 'pg_tblspc'), { recursive: true, mode: 0o700 });
  for (const t of plan) {
    await fs.mkdir(t.target, { recursive: true, mode: 0o700 });
    await fs.chmod(t.target, 0o700);
    await fs.symlink(t.target, path.join(pgdata, 'pg_tblspc', String(t.oid)));
  }
}

/**
 * tablespace_map as PostgreSQL 15 reads it: `<oid> <path>` per line, a backslash before a
 * backslash or line break in the path.
 */
export function tablespaceMapFile(plan: readonly TablespaceTarget[]): string {
  return plan.map((t) => `${t.oid} ${t.target.replace(/[\\\n\r]/g, (c) => `\\${c}`)}\n`).join('');
}
