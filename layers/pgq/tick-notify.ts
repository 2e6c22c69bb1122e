// Tick notifications: our ticker announces each new tick of a queue with NOTIFY on the queue's
// channel (sent in the tick's own transaction by pgq.ticker_poll, or by the ticker loop on the C
// extension), so a consumer in another process wakes at once instead of after its loop delay.
// Only the ticker notifies, never a producer's transaction. The channel name is computed the same
// way in SQL (sql/pgq/functions/pgq.ticker_poll.sql) and here.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { quoteIdent } from '../db/ident.ts';

/**
 * The channel on which a consumer says, in the transaction that finishes its batch, that it is
 * about to wait for its queue's next tick (payload: the queue). Our ticker LISTENs there and polls
 * that queue at once instead of at its next poll period: under load, events are always waiting
 * when a consumer finishes, and the wait for the poll was a fixed part of every cycle. Not
 * 'pgq.…', so no queue's tick channel can be it.
 */
export const WAITING_CHANNEL = 'pgq_consumer_waiting';

/** The NOTIFY channel of a queue's ticks: 'pgq.<queue>', or 'pgq.<md5>' past 59 bytes (NAMEDATALEN). */
export function tickChannel(queue: string): string {
  return channel('pgq.', queue);
}

/**
 * The channel on which a node's admin commands (a table added, removed, copied again) wake the
 * node's own cascade worker for the queue, LISTENed on the worker's local connection: such a
 * change arrives with no tick, and the worker would otherwise see it after its loop delay.
 */
export function workerWakeChannel(queue: string): string {
  return channel('pgq_node.', queue);
}

/** prefix + queue, or prefix + md5(queue) when that would pass NAMEDATALEN (63 bytes). */
function channel(prefix: string, queue: string): string {
  return Buffer.byteLength(prefix + queue, 'utf8') <= 63
    ? `${prefix}${queue}`
    : `${prefix}${createHash('md5').update(queue, 'utf8').digest('hex')}`;
}

/** The SQL expression of tickChannel for a queue-name expression (for the ticker's own NOTIFY). */
export function tickChannelSql(queueExpr: string): string {
  return `case when octet_length(${queueExpr}) <= 59 then 'pgq.' || ${queueExpr} else 'pgq.' || md5(${queueExpr}) end`;
}

/**
 * LISTENs on the queue's tick channel on this connection and calls onTick for each notification.
 * Returns the way back: stop listening (UNLISTEN unless the connection is being discarded).
 */
export async function listenForTicks(
  client: pg.ClientBase,
  queue: string,
  onTick: () => void,
): Promise<(discard?: boolean) => Promise<void>> {
  return listenOn(client, tickChannel(queue), onTick);
}

/**
 * LISTENs on `channel` on this connection and calls onNotify for each notification there.
 * Returns the way back: stop listening (UNLISTEN unless the connection is being discarded).
 */
export async function listenOn(
  client: pg.ClientBase,
  channel: string,
  onNotify: () => void,
): Promise<(discard?: boolean) => Promise<void>> {
  const handler = (msg: pg.Notification) => {
    if (msg.channel === channel) onNotify();
  };
  client.on('notification', handler);
  try {
    await client.query(`listen ${quoteIdent(channel)}`);
  } catch (err) {
    client.off('notification', handler);
    throw err;
  }
  return async (discard = false) => {
    client.off('notification', handler);
    if (!discard) await client.query(`unlisten ${quoteIdent(channel)}`);
  };
}
