// `skytools walmgr <command>`: WAL archive, base backups and point-in-time restore to S3 or a
// local directory. Declarations only: each command resolves the settings once and calls one
// function in layers/walmgr/command/, loaded when that command runs. Errors go to the CLI's one
// exit policy (layers/errors/exit.ts: archive refused → 3, restore-wal errors → 126). `archive`
// with a marker never gets here: cli/main.ts answers it first (layers/walmgr/command/archive-marker.ts).
import type { Command } from 'commander';
import type { ListBackupsOptions } from '../../layers/walmgr/command/listbackups.ts';
import type { RestoreOptions } from '../../layers/walmgr/command/restore.ts';
import type { VerifyOptions } from '../../layers/walmgr/command/verify.ts';
import {
  addWalmgrOptions,
  BACKUP_OPTIONS,
  CHECK_OPTIONS,
  EXPIRE_OPTIONS,
  loadWalmgrSettings,
  STREAM_OPTIONS,
  type WalmgrSettings,
} from '../../layers/walmgr/settings.ts';

/** The settings of this invocation (flags > env > .ini > defaults); warnings to stderr. */
function settings(cmd: Command): WalmgrSettings {
  const { values, warnings } = loadWalmgrSettings(cmd.optsWithGlobals());
  for (const w of warnings) process.stderr.write(`skytools walmgr: warning: ${w}\n`);
  return values;
}

/** Sets the exit code a command returns (restore-wal's "not archived", verify's problems). */
function exitWith(code: number | undefined): void {
  if (code) process.exitCode = code;
}

export function register(program: Command): void {
  const walmgr = addWalmgrOptions(
    program
      .command('walmgr')
      .description('WAL archive, base backups and point-in-time restore (S3 or a local directory)'),
  );

  walmgr
    .command('init')
    .description(
      'initialise the repository (writes its marker; creates a local directory, an S3 bucket must exist); every other command refuses a repository without it. Idempotent; on an existing repository it only adds the marker',
    )
    .action(async (_o: unknown, cmd: Command) => {
      const { initCommand } = await import('../../layers/walmgr/command/init.ts');
      await initCommand(settings(cmd));
    });

  walmgr
    .command('archive')
    .description('archive_command: store WAL file %p named %f; exit 0 only once it is durable')
    .argument('<path>', '%p')
    .argument('<name>', '%f')
    .action(async (walPath: string, walName: string, _o: unknown, cmd: Command) => {
      const { archiveCommand } = await import('../../layers/walmgr/command/archive.ts');
      await archiveCommand(walPath, walName, settings(cmd));
    });

  walmgr
    .command('archive-ahead', { hidden: true })
    .description('background part of archive: store the .ready files of <dir> after <name>, leaving markers')
    .argument('<dir>')
    .argument('<name>')
    .action(async (walDir: string, skip: string, _o: unknown, cmd: Command) => {
      const { archiveAheadCommand } = await import('../../layers/walmgr/command/archive.ts');
      await archiveAheadCommand(walDir, skip, settings(cmd));
    });

  walmgr
    .command('restore-wal')
    .description(
      'restore_command: fetch WAL file %f into %p; exit 1 when not archived, 126 (recovery stops) on corruption or errors',
    )
    .argument('<name>', '%f')
    .argument('<path>', '%p')
    .action(async (walName: string, destPath: string, _o: unknown, cmd: Command) => {
      const { restoreWalCommand } = await import('../../layers/walmgr/command/restore-wal.ts');
      exitWith(await restoreWalCommand(walName, destPath, settings(cmd)));
    });

  STREAM_OPTIONS.addOptions(
    walmgr
      .command('stream')
      .description(
        'stream WAL with pg_receivewal through a replication slot; upload the segment in progress as <segment>.partial every interval, completed segments as archive does; SIGTERM stops after a final upload',
      ),
  )
    .option('--slot <name>', 'replication slot (created if missing)', 'skytools_walmgr')
    .option('--pg-bin <dir>', 'directory of pg_receivewal (default: PATH, then /usr/lib/postgresql/15/bin)')
    .option('--stream-dir <dir>', 'local directory pg_receivewal writes into (default: <spool>/stream)')
    .action(async (o: { slot: string; pgBin?: string; streamDir?: string }, cmd: Command) => {
      const { streamCommand } = await import('../../layers/walmgr/command/stream.ts');
      await streamCommand({ ...o, ...STREAM_OPTIONS.load({ flags: o }).values }, settings(cmd));
    });

  walmgr
    .command('restore-prefetch', { hidden: true })
    .description('background part of restore-wal: fetch the segments after <name> into the spool')
    .argument('<name>')
    .argument('<segsize>')
    .action(async (walName: string, segSize: string, _o: unknown, cmd: Command) => {
      const { restorePrefetchCommand } = await import('../../layers/walmgr/command/restore-wal.ts');
      await restorePrefetchCommand(walName, segSize, settings(cmd));
    });

  BACKUP_OPTIONS.addOptions(
    walmgr
      .command('backup')
      .description('base backup of the running cluster (pg_backup_start/stop) into the repository'),
  )
    .option('--no-fast', 'spread the start checkpoint instead of an immediate one')
    .action(async (o: { fast: boolean }, cmd: Command) => {
      const { backupCommand } = await import('../../layers/walmgr/command/backup.ts');
      // Options before settings: a typo must not start a backup.
      const own = BACKUP_OPTIONS.load({ flags: o }).values;
      await backupCommand({ fast: o.fast, ...own }, settings(cmd));
    });

  walmgr
    .command('listbackups')
    .description('list complete backups')
    .option('--system-id <id>', 'only backups of this database system')
    .option('--json', 'print manifests as JSON (without file lists)')
    .action(async (o: ListBackupsOptions, cmd: Command) => {
      const { listBackupsCommand } = await import('../../layers/walmgr/command/listbackups.ts');
      await listBackupsCommand(o, settings(cmd));
    });

  walmgr
    .command('verify')
    .description('download and check every file of a backup and the WAL it needs; exit 1 on any problem')
    .option('--backup <id>', "'latest', 'all' or a backup id", 'latest')
    .option('--system-id <id>', 'database system (when the repository holds several)')
    .action(async (o: VerifyOptions, cmd: Command) => {
      const { verifyCommand } = await import('../../layers/walmgr/command/verify.ts');
      exitWith(await verifyCommand(o, settings(cmd)));
    });

  CHECK_OPTIONS.addOptions(
    walmgr
      .command('check')
      .description(
        'check that restore would work now: repository reachable and writable, archive_command round-trips a fresh segment (--db: the primary), the newest backup matches its manifest, WAL from it to now is contiguous, retention is not overdue; exit 0 only when every check passes',
      ),
  )
    .option('--system-id <id>', 'database system (default: the server of --db)')
    .option('--json', 'print the verdicts as JSON')
    .action(async (o: { systemId?: string; json?: boolean }, cmd: Command) => {
      const { checkCommand } = await import('../../layers/walmgr/command/check.ts');
      const own = CHECK_OPTIONS.load({ flags: o }).values;
      exitWith(await checkCommand({ ...o, ...own }, settings(cmd)));
    });

  EXPIRE_OPTIONS.addOptions(
    walmgr
      .command('expire')
      .description(
        'delete backups beyond a retention policy and the WAL no kept backup needs (the newest backup and .history files always stay)',
      ),
  )
    .option('--system-id <id>', 'only this database system (default: every system in the repository)')
    .option('--dry-run', 'print what would be deleted, delete nothing')
    .action(async (o: { systemId?: string; dryRun?: boolean }, cmd: Command) => {
      const { expireCommand } = await import('../../layers/walmgr/command/expire.ts');
      await expireCommand({ ...o, ...EXPIRE_OPTIONS.load({ flags: o }).values }, settings(cmd));
    });

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
    .option(
      '--tablespace-map <oid=path>',
      'restore the tablespace with this OID (or name) into this new, empty directory instead of its original location; repeatable',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .action(async (o: RestoreOptions, cmd: Command) => {
      const { restoreCommand } = await import('../../layers/walmgr/command/restore.ts');
      await restoreCommand(o, settings(cmd));
    });

  for (const [action, what] of [
    ['pause', 'pause WAL replay on a standby (pg_wal_replay_pause)'],
    ['continue', 'resume WAL replay on a paused standby (pg_wal_replay_resume)'],
    ['boot', 'end recovery on a standby and open it read-write (promote)'],
  ] as const) {
    walmgr
      .command(action)
      .description(`${what}; connects with --db (the standby)`)
      .action(async (_o: unknown, cmd: Command) => {
        const { standbyCommand } = await import('../../layers/walmgr/command/standby.ts');
        await standbyCommand(action, settings(cmd));
      });
  }

  walmgr
    .command('archive-command')
    .description('print the archive_command / restore_command lines for postgresql.conf')
    .action(async (_o: unknown, cmd: Command) => {
      const { printArchiveCommand } = await import('../../layers/walmgr/command/archive-command.ts');
      printArchiveCommand(settings(cmd));
    });
}
