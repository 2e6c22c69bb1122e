// The Node-side twin of archive-fast.sh: before the command line is parsed at all, `skytools
// walmgr archive %p %f` answers from a marker left by an earlier archive-ahead pass. Only
// node:path and the spool module (node:fs) load here — no settings, storage or SDK — so a
// segment already stored costs little more than starting Node.
//
// It understands the plain form archive_command uses (`walmgr archive %p %f [--flag value …]`)
// and reads only where the spool is: --pgdata / PGDATA and --spool / WALMGR_SPOOL, the names of
// those settings in layers/walmgr/settings.ts (a test keeps them equal). With a config file
// (--config / WALMGR_CONFIG), which may move the spool, or anything unusual it returns false and
// the full command runs, which checks the marker again after resolving every setting.
import path from 'node:path';
import { consumeMarker, spoolDir } from '../spool.ts';

export const FAST_PATH_NAMES = {
  pgdata: { flag: '--pgdata', env: 'PGDATA' },
  spool: { flag: '--spool', env: 'WALMGR_SPOOL' },
  config: { flag: '--config', env: 'WALMGR_CONFIG' },
} as const;

/** True when a marker vouched for the file and was consumed: archive_command may exit 0. */
export function archivedByMarker(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): boolean {
  const [, , tool, command, walPath, walName, ...rest] = argv;
  if (tool !== 'walmgr' || command !== 'archive' || !walPath || !walName) return false;
  if (walPath.startsWith('-') || walName.startsWith('-')) return false;
  const flags: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (!a.startsWith('--') || a === '--help') return false;
    const eq = a.indexOf('=');
    if (eq > 0) flags[a.slice(0, eq)] = a.slice(eq + 1);
    else if (a === '--use-partial' && !/^(on|off|true|false|yes|no|1|0)$/i.test(rest[i + 1] ?? ''))
      flags[a] = 'on';
    else if (rest[i + 1] !== undefined) flags[a] = rest[++i]!;
    else return false;
  }
  const n = FAST_PATH_NAMES;
  if (flags[n.config.flag] !== undefined || env[n.config.env]) return false;
  const pgdata = path.resolve(cwd, flags[n.pgdata.flag] || env[n.pgdata.env] || '.');
  const spool = spoolDir(pgdata, flags[n.spool.flag] || env[n.spool.env] || undefined);
  try {
    return consumeMarker(spool, walName, path.resolve(pgdata, walPath));
  } catch {
    return false;
  }
}
