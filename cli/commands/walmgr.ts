// `skytools walmgr <command>`: WAL archive, base backups and point-in-time restore to S3 or a
// local directory. `archive` runs once per WAL segment from archive_command, so its start is
// kept cheap: the marker check imports only node:fs, and the storage (with the AWS SDK) loads
// only when an upload is needed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { consumeMarker, spoolDir } from '../../layers/walmgr/spool.ts';

/**
 * The settings table: option, environment variable, original walmgr .ini key ([walmgr]
 * section), default. Flags win over env, env over the .ini file.
 */
const SETTINGS = {
  repo: {
    flag: '--repo <url>',
    env: 'WALMGR_REPO',
    ini: 'walmgr_data',
    def: undefined,
    help: 's3://bucket/prefix or a local directory',
  },
  pgdata: {
    flag: '--pgdata <dir>',
    env: 'PGDATA',
    ini: 'master_data',
    def: undefined,
    help: 'data directory (default: current directory, as archive_command runs there)',
  },
  db: {
    flag: '--db <url>',
    env: 'DATABASE_URL',
    ini: 'master_db',
    def: undefined,
    help: 'postgres:// URL for backup (default: PG* variables)',
  },
  endpoint: {
    flag: '--endpoint <url>',
    env: 'AWS_ENDPOINT_URL',
    ini: 's3_endpoint',
    def: undefined,
    help: 'S3-compatible endpoint',
  },
  region: { flag: '--region <name>', env: 'AWS_REGION', ini: 's3_region', def: undefined, help: 'S3 region' },
  spool: {
    flag: '--spool <dir>',
    env: 'WALMGR_SPOOL',
    ini: 'spool_dir',
    def: undefined,
    help: 'local spool (default PGDATA/pg_wal/skytools_walmgr)',
  },
  parallel: {
    flag: '--parallel <n>',
    env: 'WALMGR_PARALLEL',
    ini: 'parallel',
    def: '4',
    help: 'concurrent transfers',
  },
  ahead: {
    flag: '--ahead <n>',
    env: 'WALMGR_ARCHIVE_AHEAD',
    ini: 'archive_ahead',
    def: '32',
    help: 'archive: also store up to n further .ready files',
  },
  prefetch: {
    flag: '--prefetch <n>',
    env: 'WALMGR_PREFETCH',
    ini: 'prefetch',
    def: '8',
    help: 'restore-wal: segments fetched ahead',
  },
  compression: {
    flag: '--compression <codec>',
    env: 'WALMGR_COMPRESSION',
    ini: 'compression',
    def: 'zstd',
    help: 'zstd | gzip | brotli | none',
  },
  conditionalPut: {
    flag: '--s3-conditional-put <on|off>',
    env: 'WALMGR_S3_CONDITIONAL_PUT',
    ini: 's3_conditional_put',
    def: 'on',
    help: "use If-None-Match on S3 puts; 'off' for endpoints that ignore it (then: check, then put)",
  },
  usePartial: {
    flag: '--use-partial [on|off]',
    env: 'WALMGR_USE_PARTIAL',
    ini: 'use_partial',
    def: 'off',
    help: "restore-wal: serve <segment>.partial (from 'stream') for the last, unarchived segment",
  },
  timeout: {
    flag: '--timeout <seconds>',
    env: 'WALMGR_TIMEOUT',
    ini: 'timeout',
    def: '60',
    help: 'deadline of one storage request',
  },
} as const;

type SettingName = keyof typeof SETTINGS;
type Settings = Partial<Record<SettingName, string>>;

function readIni(file: string): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read walmgr config ${file}: ${(err as Error).message}`);
  }
  const out: Record<string, string> = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1]!.trim();
      continue;
    }
    const kv = /^([^=:]+)[=:](.*)$/.exec(line);
    if (kv && section === 'walmgr') out[kv[1]!.trim()] = kv[2]!.trim();
  }
  return out;
}

function resolve(cmd: Command): Settings {
  const flags = cmd.optsWithGlobals() as Record<string, string | undefined>;
  const configFile = flags.config ?? process.env.WALMGR_CONFIG;
  const ini = configFile ? readIni(configFile) : {};
  const out: Settings = {};
  for (const [name, s] of Object.entries(SETTINGS) as [SettingName, (typeof SETTINGS)[SettingName]][]) {
    const attr = s.flag
      .split(' ')[0]!
      .slice(2)
      .replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
    const v = flags[attr] ?? process.env[s.env] ?? ini[s.ini] ?? s.def;
    if (v !== undefined && v !== '') out[name] = v;
  }
  return out;
}

/** '16M', '256k', '1048576' → bytes, within [min, max]. */
function parseSize(v: string, what: string, min: number, max: number): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(v.trim());
  const mult = { '': 1, k: 1024, m: 1024 * 1024, g: 1024 * 1024 * 1024 }[(m?.[2] ?? '').toLowerCase()] ?? 1;
  const n = m ? Number(m[1]) * mult : Number.NaN;
  if (!Number.isFinite(n) || n < min || n > max)
    throw new Error(
      `${what} ${JSON.stringify(v)}: give a size between ${min / 1024}k and ${max / 1048576}M, e.g. 16M`,
    );
  return n;
}

function int(s: Settings, name: SettingName, min: number, max: number): number {
  const raw = s[name] ?? '';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(
      `${SETTINGS[name].flag.split(' ')[0]} ${JSON.stringify(raw)} is not an integer between ${min} and ${max}`,
    );
  }
  return n;
}

async function storageOf(s: Settings) {
  if (!s.repo)
    throw new Error(
      'no repository: pass --repo s3://bucket/prefix (or a directory), set WALMGR_REPO, or walmgr_data in the .ini',
    );
  const { openStorage } = await import('../../layers/storage/index.ts');
  const secs = int(s, 'timeout', 1, 3600);
  return openStorage(s.repo, {
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    ...(s.region ? { region: s.region } : {}),
    conditionalPut: s.conditionalPut !== 'off',
    requestDeadlineMs: secs * 1000,
    idleTimeoutMs: Math.min(secs, 30) * 1000,
  });
}

function usePartialOf(s: Settings): boolean {
  const v = String(s.usePartial ?? 'off').toLowerCase();
  if (['true', 'on', '1', 'yes'].includes(v)) return true;
  if (['off', 'false', '0', 'no'].includes(v)) return false;
  throw new Error(`--use-partial ${JSON.stringify(s.usePartial)}: use on or off`);
}

function pgdataOf(s: Settings): string {
  return path.resolve(s.pgdata ?? process.cwd());
}

function shq(v: string): string {
  return /^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

const FAST_ARCHIVE = path.resolve(import.meta.dirname, '../../layers/walmgr/archive-fast.sh');
const FAST_RESTORE = path.resolve(import.meta.dirname, '../../layers/walmgr/restore-fast.sh');

/** Flags that make a spawned walmgr find the same repository (never credentials). */
function repoFlags(s: Settings): string {
  const parts = [`--repo ${shq(s.repo ?? '')}`];
  if (s.endpoint) parts.push(`--endpoint ${shq(s.endpoint)}`);
  if (s.region) parts.push(`--region ${shq(s.region)}`);
  if (s.spool) parts.push(`--spool ${shq(s.spool)}`);
  if (usePartialOf(s)) parts.push('--use-partial on');
  return parts.join(' ');
}

export function register(program: Command): void {
  const walmgr = program
    .command('walmgr')
    .description('WAL archive, base backups and point-in-time restore (S3 or a local directory)');
  walmgr.option(
    '--config <file>',
    'walmgr .ini file ([walmgr] section: walmgr_data, master_data, master_db, compression, …); env WALMGR_CONFIG',
  );
  for (const s of Object.values(SETTINGS))
    walmgr.option(s.flag, `${s.help} (env ${s.env})${s.def ? ` [${s.def}]` : ''}`);

  walmgr
    .command('archive')
    .description('archive_command: store WAL file %p named %f; exit 0 only once it is durable')
    .argument('<path>', '%p')
    .argument('<name>', '%f')
    .action(async (walPath: string, walName: string, _o: unknown, cmd: Command) => {
      const s = resolve(cmd);
      const pgdata = pgdataOf(s);
      const spool = spoolDir(pgdata, s.spool);
      {
        // Fast path: stored earlier by an archive-ahead pass; no storage access needed.
        if (consumeMarker(spool, walName, path.resolve(pgdata, walPath))) return;
        const [{ archiveWal }, { parseCodec }] = await Promise.all([
          import('../../layers/walmgr/archive.ts'),
          import('../../layers/walmgr/codec.ts'),
        ]);
        const storage = await storageOf(s);
        try {
          await archiveWal({
            storage,
            walPath,
            walName,
            pgdata,
            spool,
            codec: parseCodec(s.compression ?? 'zstd'),
            parallel: int(s, 'parallel', 1, 64),
            ahead: int(s, 'ahead', 0, 10000),
            log: (m) => process.stderr.write(`skytools walmgr archive: ${m}\n`),
          });
        } finally {
          storage.close();
        }
      }
    });

  walmgr
    .command('restore-wal')
    .description(
      'restore_command: fetch WAL file %f into %p; exit 1 when not archived, 126 (recovery stops) on corruption or errors',
    )
    .argument('<name>', '%f')
    .argument('<path>', '%p')
    .action(async (walName: string, destPath: string, _o: unknown, cmd: Command) => {
      {
        const s = resolve(cmd);
        const pgdata = pgdataOf(s);
        const [{ restoreWal }, { readSystemId }] = await Promise.all([
          import('../../layers/walmgr/restore-wal.ts'),
          import('../../layers/walmgr/wal.ts'),
        ]);
        const sysid = readSystemId(pgdata);
        if (!sysid)
          throw new Error(
            `cannot read ${path.join(pgdata, 'global/pg_control')}; restore-wal runs in the data directory (or pass --pgdata)`,
          );
        let storage: Awaited<ReturnType<typeof storageOf>> | undefined;
        const open = async () => {
          storage ??= await storageOf(s);
          return storage;
        };
        try {
          const res = await restoreWal({
            storage: open,
            walName,
            destPath,
            pgdata,
            sysid,
            spool: spoolDir(pgdata, s.spool),
            prefetch: int(s, 'prefetch', 0, 1000),
            parallel: int(s, 'parallel', 1, 64),
            usePartial: usePartialOf(s),
            log: (m) => process.stderr.write(`skytools walmgr restore-wal: ${m}\n`),
          });
          if (res.refillAfter) {
            // Refill the prefetch window in a detached process so this call returns now.
            const { spawn } = await import('node:child_process');
            const argv = process.argv.slice(1);
            const at = argv.indexOf('restore-wal');
            const child = spawn(
              process.execPath,
              [
                ...argv.slice(0, at),
                'restore-prefetch',
                res.refillAfter.walName,
                String(res.refillAfter.segSize),
                ...argv.slice(at + 3),
              ],
              { detached: true, stdio: 'ignore', cwd: process.cwd() },
            );
            child.unref();
          }
          if (res.status === 'not-found') {
            process.stderr.write(
              `skytools walmgr restore-wal: ${walName} is not in ${(await open()).description}\n`,
            );
            process.exitCode = 1;
          }
        } finally {
          storage?.close();
        }
      }
    });

  walmgr
    .command('stream')
    .description(
      'stream WAL with pg_receivewal through a replication slot; upload the segment in progress as <segment>.partial every interval, completed segments as archive does; SIGTERM stops after a final upload',
    )
    .option('--slot <name>', 'replication slot (created if missing)', 'skytools_walmgr')
    .option('--interval <seconds>', 'seconds between uploads of the partial segment', '5')
    .option('--pg-bin <dir>', 'directory of pg_receivewal (default: PATH, then /usr/lib/postgresql/15/bin)')
    .option('--stream-dir <dir>', 'local directory pg_receivewal writes into (default: <spool>/stream)')
    .action(
      async (o: { slot: string; interval: string; pgBin?: string; streamDir?: string }, cmd: Command) => {
        {
          const s = resolve(cmd);
          const interval = Number(o.interval);
          if (!(interval > 0 && interval <= 3600))
            throw new Error(`--interval ${JSON.stringify(o.interval)} is not a number of seconds (0-3600]`);
          const [{ streamWal, findReceivewal }, { parseCodec }] = await Promise.all([
            import('../../layers/walmgr/stream.ts'),
            import('../../layers/walmgr/codec.ts'),
          ]);
          const receivewal = findReceivewal(o.pgBin);
          const dir = path.resolve(o.streamDir ?? path.join(spoolDir(pgdataOf(s), s.spool), 'stream'));
          const storage = await storageOf(s);
          const stop = new Promise<void>((res) => {
            process.once('SIGTERM', () => res());
            process.once('SIGINT', () => res());
          });
          try {
            await streamWal({
              storage,
              dir,
              ...(s.db ? { db: s.db } : {}),
              slot: o.slot,
              codec: parseCodec(s.compression ?? 'zstd'),
              intervalMs: interval * 1000,
              receivewal,
              stop,
              log: (m) => process.stderr.write(`skytools walmgr stream: ${m}\n`),
            });
          } finally {
            storage.close();
          }
        }
      },
    );

  walmgr
    .command('restore-prefetch', { hidden: true })
    .description('background part of restore-wal: fetch the segments after <name> into the spool')
    .argument('<name>')
    .argument('<segsize>')
    .action(async (walName: string, segSize: string, _o: unknown, cmd: Command) => {
      const s = resolve(cmd);
      const pgdata = pgdataOf(s);
      const [{ prefetchWindow }, { readSystemId }] = await Promise.all([
        import('../../layers/walmgr/restore-wal.ts'),
        import('../../layers/walmgr/wal.ts'),
      ]);
      const sysid = readSystemId(pgdata);
      if (!sysid) return;
      let storage: Awaited<ReturnType<typeof storageOf>> | undefined;
      try {
        await prefetchWindow(
          {
            storage: async () => {
              storage ??= await storageOf(s);
              return storage;
            },
            walName,
            destPath: '',
            pgdata,
            sysid,
            spool: spoolDir(pgdata, s.spool),
            prefetch: int(s, 'prefetch', 0, 1000),
            parallel: int(s, 'parallel', 1, 64),
          },
          walName,
          Number(segSize),
        );
      } finally {
        storage?.close();
      }
    });

  walmgr
    .command('backup')
    .description('base backup of the running cluster (pg_backup_start/stop) into the repository')
    .option('--no-fast', 'spread the start checkpoint instead of an immediate one')
    .option(
      '--archive-timeout <seconds>',
      "how long to wait for the backup's last WAL segment to be archived into the repository",
      '300',
    )
    .option(
      '--piece-size <size>',
      'files larger than this are stored in pieces of this size, backed up and restored in parallel (e.g. 16M, 256k)',
      '16M',
    )
    .action(async (o: { fast: boolean; archiveTimeout: string; pieceSize: string }, cmd: Command) => {
      const pieceSize = parseSize(o.pieceSize, '--piece-size', 64 * 1024, 1024 * 1024 * 1024);
      const archiveTimeout = Number(o.archiveTimeout);
      if (!Number.isFinite(archiveTimeout) || archiveTimeout <= 0)
        throw new Error(
          `--archive-timeout ${JSON.stringify(o.archiveTimeout)} is not a positive number of seconds`,
        );
      const s = resolve(cmd);
      const [{ backup }, { parseCodec }, { connectClient }] = await Promise.all([
        import('../../layers/walmgr/backup.ts'),
        import('../../layers/walmgr/codec.ts'),
        import('../../layers/db/connection.ts'),
      ]);
      const storage = await storageOf(s);
      const client = await connectClient({
        ...(s.db ? { connectionString: s.db } : {}),
        applicationName: 'skytools walmgr backup',
      });
      try {
        const m = await backup({
          storage,
          client,
          ...(s.pgdata ? { pgdata: path.resolve(s.pgdata) } : {}),
          codec: parseCodec(s.compression ?? 'zstd'),
          parallel: int(s, 'parallel', 1, 64),
          fast: o.fast,
          archiveTimeoutMs: archiveTimeout * 1000,
          pieceSize,
          progress: (m) => process.stderr.write(`${m}\n`),
        });
        process.stdout.write(`${m.id}\n`);
      } finally {
        await client.end();
        storage.close();
      }
    });

  walmgr
    .command('listbackups')
    .description('list complete backups')
    .option('--system-id <id>', 'only backups of this database system')
    .option('--json', 'print manifests as JSON (without file lists)')
    .action(async (o: { systemId?: string; json?: boolean }, cmd: Command) => {
      const s = resolve(cmd);
      const { listBackups } = await import('../../layers/walmgr/catalog.ts');
      const storage = await storageOf(s);
      try {
        const list = await listBackups(storage, o.systemId);
        if (o.json) {
          process.stdout.write(
            `${JSON.stringify(
              list.map(({ files, dirs, ...rest }) => ({ ...rest, fileCount: files.length })),
              null,
              1,
            )}\n`,
          );
          return;
        }
        process.stdout.write(
          'id                    system id            tli  start lsn    stop lsn     size MiB  stored MiB  stop time\n',
        );
        for (const m of list) {
          process.stdout.write(
            `${m.id.padEnd(21)} ${m.systemId.padEnd(20)} ${String(m.timeline).padStart(3)}  ${m.startLsn.padEnd(12)} ${m.stopLsn.padEnd(12)} ${(m.totalSize / 1048576).toFixed(1).padStart(8)}  ${(m.storedSize / 1048576).toFixed(1).padStart(10)}  ${m.stopTime}\n`,
          );
        }
      } finally {
        storage.close();
      }
    });

  walmgr
    .command('verify')
    .description('download and check every file of a backup and the WAL it needs; exit 1 on any problem')
    .option('--backup <id>', "'latest', 'all' or a backup id", 'latest')
    .option('--system-id <id>', 'database system (when the repository holds several)')
    .action(async (o: { backup: string; systemId?: string }, cmd: Command) => {
      const s = resolve(cmd);
      const { verifyAll } = await import('../../layers/walmgr/catalog.ts');
      const storage = await storageOf(s);
      try {
        const parallel = int(s, 'parallel', 1, 64);
        const reports = await verifyAll(
          storage,
          o.backup,
          o.systemId,
          parallel,
          (m) => process.stderr.write(`${m}\n`),
          Math.min(parallel, os.availableParallelism()),
        );
        for (const r of reports) {
          process.stdout.write(
            `${r.backup}: ${r.files} files, ${r.walSegments} WAL segments: ${r.problems.length ? 'FAILED' : 'ok'}\n`,
          );
          for (const p of r.problems) process.stdout.write(`  ${p}\n`);
        }
        if (reports.some((r) => r.problems.length)) process.exitCode = 1;
      } finally {
        storage.close();
      }
    });

  walmgr
    .command('expire')
    .description(
      'delete backups beyond a retention policy and the WAL no kept backup needs (the newest backup and .history files always stay)',
    )
    .option('--keep-last <n>', 'keep the newest N complete backups')
    .option('--max-age-days <days>', 'keep every backup that stopped less than this many days ago')
    .option('--system-id <id>', 'only this database system (default: every system in the repository)')
    .option('--dry-run', 'print what would be deleted, delete nothing')
    .action(
      async (
        o: { keepLast?: string; maxAgeDays?: string; systemId?: string; dryRun?: boolean },
        cmd: Command,
      ) => {
        const s = resolve(cmd);
        const num = (v: string | undefined, flag: string) => {
          if (v === undefined) return undefined;
          const n = Number(v);
          if (v.trim() === '' || !Number.isFinite(n))
            throw new Error(`${flag} ${JSON.stringify(v)} is not a number`);
          return n;
        };
        if (o.keepLast === undefined && o.maxAgeDays === undefined)
          throw new Error('expire needs a retention policy: give --keep-last N and/or --max-age-days D');
        const { applyRetention, checkPolicy } = await import('../../layers/walmgr/retention.ts');
        const policy = checkPolicy({
          keepLast: num(o.keepLast, '--keep-last'),
          maxAgeDays: num(o.maxAgeDays, '--max-age-days'),
        });
        const storage = await storageOf(s);
        try {
          const res = await applyRetention({
            storage,
            policy,
            ...(o.systemId ? { systemId: o.systemId } : {}),
            dryRun: Boolean(o.dryRun),
            parallel: int(s, 'parallel', 1, 64) * 4,
          });
          const verb = res.dryRun ? 'would delete' : 'deleted';
          for (const r of res.systems) {
            process.stdout.write(
              `${r.systemId}: kept ${r.keptBackups.length} backup(s) [${r.keptBackups.join(', ')}]; ${verb} ${r.expiredBackups.length} backup(s) [${r.expiredBackups.join(', ')}] and ${r.expiredWal.length} WAL file(s) below ${r.walBoundary ?? '(none)'}; ${r.deletedObjects} object(s)\n`,
            );
            if (r.incompleteBackups.length)
              process.stdout.write(
                `${r.systemId}: left alone ${r.incompleteBackups.length} incomplete backup(s) without a manifest [${r.incompleteBackups.join(', ')}]\n`,
              );
          }
          if (res.systems.length === 0)
            process.stdout.write('no backups in the repository: nothing to expire\n');
        } finally {
          storage.close();
        }
      },
    );

  walmgr
    .command('restore')
    .description('restore a base backup into an empty data directory and set up recovery (PITR / standby)')
    .option('--backup <id>', "'latest' or a backup id", 'latest')
    .option('--system-id <id>', 'database system (when the repository holds several)')
    .option('--target-time <time>', 'recovery_target_time, e.g. "2026-01-02 03:04:05+00"')
    .option('--target-lsn <lsn>', 'recovery_target_lsn')
    .option('--target-xid <xid>', 'recovery_target_xid')
    .option('--target-action <action>', 'pause | promote | shutdown', 'promote')
    .option('--standby', 'write standby.signal (keep replaying archived WAL) instead of recovery.signal')
    .option('--restore-command <cmd>', 'override the restore_command written (must contain %f and %p)')
    .action(
      async (
        o: {
          backup: string;
          systemId?: string;
          targetTime?: string;
          targetLsn?: string;
          targetXid?: string;
          targetAction: string;
          standby?: boolean;
          restoreCommand?: string;
        },
        cmd: Command,
      ) => {
        const s = resolve(cmd);
        if (!s.pgdata) throw new Error('restore needs --pgdata <new empty directory> (or PGDATA)');
        if (!['pause', 'promote', 'shutdown'].includes(o.targetAction))
          throw new Error(`--target-action ${o.targetAction}: use pause, promote or shutdown`);
        const { restoreBackup } = await import('../../layers/walmgr/restore.ts');
        const storage = await storageOf(s);
        try {
          const restoreCommand =
            o.restoreCommand ??
            `SKYTOOLS_NODE=${shq(process.execPath)} ${shq(FAST_RESTORE)} %f %p ${repoFlags(s)}`;
          await restoreBackup({
            storage,
            backup: o.backup,
            ...(o.systemId ? { systemId: o.systemId } : {}),
            pgdata: path.resolve(s.pgdata),
            parallel: int(s, 'parallel', 1, 64),
            // Decompress + check + write in worker threads, one per core at most.
            workers: Math.min(int(s, 'parallel', 1, 64), os.availableParallelism()),
            restoreCommand,
            target: {
              ...(o.targetTime ? { time: o.targetTime } : {}),
              ...(o.targetLsn ? { lsn: o.targetLsn } : {}),
              ...(o.targetXid ? { xid: o.targetXid } : {}),
              action: o.targetAction as 'pause' | 'promote' | 'shutdown',
            },
            standby: Boolean(o.standby),
            progress: (m) => process.stderr.write(`${m}\n`),
          });
        } finally {
          storage.close();
        }
      },
    );

  for (const [action, what] of [
    ['pause', 'pause WAL replay on a standby (pg_wal_replay_pause)'],
    ['continue', 'resume WAL replay on a paused standby (pg_wal_replay_resume)'],
    ['boot', 'end recovery on a standby and open it read-write (promote)'],
  ] as const) {
    walmgr
      .command(action)
      .description(`${what}; connects with --db (the standby)`)
      .action(async (_o: unknown, cmd: Command) => {
        const s = resolve(cmd);
        const [{ standbyControl }, { connectClient }] = await Promise.all([
          import('../../layers/walmgr/standby.ts'),
          import('../../layers/db/connection.ts'),
        ]);
        const client = await connectClient({
          ...(s.db ? { connectionString: s.db } : {}),
          applicationName: `skytools walmgr ${action}`,
        });
        try {
          const r = await standbyControl(client, action);
          process.stdout.write(`${r.state}${r.replayLsn ? ` (replayed up to ${r.replayLsn})` : ''}\n`);
        } finally {
          await client.end();
        }
      });
  }

  walmgr
    .command('archive-command')
    .description('print the archive_command / restore_command lines for postgresql.conf')
    .action((_o: unknown, cmd: Command) => {
      const s = resolve(cmd);
      if (!s.repo)
        throw new Error('pass --repo (or WALMGR_REPO) so the printed commands name the repository');
      const flags = repoFlags(s);
      process.stdout.write(
        `archive_mode = on\narchive_command = '${`SKYTOOLS_NODE=${shq(process.execPath)} ${shq(FAST_ARCHIVE)} %p %f ${flags}`.replace(/'/g, "''")}'\n`,
      );
      process.stdout.write(
        `restore_command = '${`SKYTOOLS_NODE=${shq(process.execPath)} ${shq(FAST_RESTORE)} %f %p ${flags}`.replace(/'/g, "''")}'\n`,
      );
    });
}
