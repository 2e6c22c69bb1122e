// `walmgr archive-command`: the postgresql.conf lines that archive and restore through the shell
// fast paths, with the flags that find this repository.
import { ConfigError } from '../../config/settings.ts';
import type { WalmgrSettings } from '../settings.ts';
import { type CommandIo, confString, FAST_ARCHIVE, processIo, repoFlags, shq } from './context.ts';
import { restoreCommandLine } from './restore.ts';

export function archiveCommandLines(s: WalmgrSettings): string {
  if (!s.repo)
    throw new ConfigError('pass --repo (or WALMGR_REPO) so the printed commands name the repository', {
      kind: 'missing',
    });
  const archive = `SKYTOOLS_NODE=${shq(process.execPath)} ${shq(FAST_ARCHIVE)} %p %f ${repoFlags(s, 'archive')}`;
  return `archive_mode = on\narchive_command = ${confString(archive)}\nrestore_command = ${confString(restoreCommandLine(s))}\n`;
}

export function printArchiveCommand(s: WalmgrSettings, io: CommandIo = processIo): void {
  io.out(archiveCommandLines(s));
}
