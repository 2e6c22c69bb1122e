// Consumer wake-ups: on each new tick of a queue, one message to the SQS FIFO queue of every
// consumer of that queue. The message group is the consumer, so SQS → Lambda never runs one
// consumer twice at once; the deduplication id is derived from (queue, consumer, tick), so a
// retried send within SQS's 5-minute window is dropped. A lost or late wake-up costs latency,
// never events: the next tick (at the latest the queue's idle tick) wakes the consumer again.
// A cooperative consumer (target with subconsumers: N > 1) gets N wake-ups per tick, one per
// message group `<consumer>.<i>`: SQS FIFO runs one invocation per message group at a time, so
// N function instances drain the consumer's batches at once, each as its own subconsumer.
import { createHash } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type Logger, silentLogger } from '../../util/log.ts';
import type { TickEvent } from '../ticker.ts';
import { messageGroup, subconsumerNames, type WakeupTarget } from './settings.ts';

export interface WakeupMessage {
  type: 'pgq.wakeup';
  database: string;
  queue: string;
  consumer: string;
  /** The tick that caused it; 'continue' wake-ups carry the last batch's tick. */
  tickId: string;
  reason: 'tick' | 'continue';
  /** Cooperative consumers: the subconsumer woken (message group `<consumer>.<subconsumer>`). */
  subconsumer?: string;
}

export function dedupId(parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}

export async function sendWakeup(sqs: SQSClient, queueUrl: string, msg: WakeupMessage): Promise<void> {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify(msg),
      MessageGroupId: messageGroup(msg.consumer, msg.subconsumer),
      MessageDeduplicationId: dedupId([
        msg.reason,
        msg.database,
        msg.queue,
        msg.consumer,
        msg.tickId,
        // Deduplication is per queue: each subconsumer's wake-up needs its own id.
        ...(msg.subconsumer == null ? [] : [msg.subconsumer]),
      ]),
    }),
  );
}

/** Sends wake-ups without holding up the tick loop; flush() waits for those in flight. */
export class SqsWaker {
  readonly #sqs: SQSClient;
  readonly #byQueue = new Map<string, WakeupTarget[]>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #log: Logger;
  sent = 0;
  failed = 0;

  constructor(sqs: SQSClient, targets: readonly WakeupTarget[], log: Logger = silentLogger) {
    this.#sqs = sqs;
    this.#log = log;
    for (const t of targets) {
      const list = this.#byQueue.get(t.queue) ?? [];
      list.push(t);
      this.#byQueue.set(t.queue, list);
    }
  }

  onTick = (ev: TickEvent): void => {
    for (const t of this.#byQueue.get(ev.queue) ?? []) {
      for (const sub of subconsumerNames(t.subconsumers) ?? [undefined]) this.#send(ev, t, sub);
    }
  };

  #send(ev: TickEvent, t: WakeupTarget, subconsumer: string | undefined): void {
    const p = sendWakeup(this.#sqs, t.queueUrl, {
      type: 'pgq.wakeup',
      database: ev.database,
      queue: ev.queue,
      consumer: t.consumer,
      tickId: ev.tickId.toString(),
      reason: 'tick',
      ...(subconsumer == null ? {} : { subconsumer }),
    })
      .then(() => {
        this.sent++;
      })
      .catch((err: Error) => {
        this.failed++;
        this.#log.warn('wake-up not sent', {
          queue: ev.queue,
          consumer: messageGroup(t.consumer, subconsumer),
          tickId: ev.tickId,
          error: err.message,
        });
      })
      .finally(() => this.#inFlight.delete(p));
    this.#inFlight.add(p);
  }

  async flush(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }
}
