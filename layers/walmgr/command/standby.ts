// `walmgr pause | continue | boot`: standby control over a connection to the standby (--db).

import type { WalmgrSettings } from '../settings.ts';
import type { StandbyAction } from '../standby.ts';
import { type CommandIo, processIo } from './context.ts';

export async function standbyCommand(
  action: StandbyAction,
  s: WalmgrSettings,
  io: CommandIo = processIo,
): Promise<void> {
  const [{ standbyControl }, { connectClient }] = await Promise.all([
    import('../standby.ts'),
    import('../../db/connection.ts'),
  ]);
  const client = await connectClient({
    ...(s.db ? { connectionString: s.db } : {}),
    applicationName: `skytools walmgr ${action}`,
  });
  try {
    const r = await standbyControl(client, action);
    io.out(`${r.state}${r.replayLsn ? ` (replayed up to ${r.replayLsn})` : ''}\n`);
  } finally {
    await client.end();
  }
}
