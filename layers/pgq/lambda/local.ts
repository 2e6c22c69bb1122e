// The deployed path run locally: the same ticker and consumer handlers, with SQS served by a
// local endpoint (AWS_ENDPOINT_URL, e.g. LocalStack, or the in-process emulator fauxqs when it is
// installed). Ticker invocations follow each other as the schedule would run them; each consumer
// queue is polled and its messages handed to the handler as Lambda's event source mapping does
// (messages reported in batchItemFailures stay for redelivery).
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { type Logger, silentLogger } from '../../util/log.ts';

export interface LocalConsumer {
  queue: string;
  consumer: string;
  /** The consumer function's handler (e.g. consumerHandler({...})). */
  handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;
}

export function localContext(timeoutMs: number, name: string): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${name}`,
    memoryLimitInMB: '256',
    awsRequestId: `local-${Date.now().toString(36)}`,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done() {},
    fail() {},
    succeed() {},
  };
}

/** Creates the FIFO wake-up queue of each consumer; returns PGQ_WAKEUP_TARGETS for the ticker. */
export async function createWakeupQueues(
  sqs: SQSClient,
  consumers: readonly Pick<LocalConsumer, 'queue' | 'consumer'>[],
): Promise<{ queue: string; consumer: string; queueUrl: string }[]> {
  const out = [];
  for (const c of consumers) {
    const r = await sqs.send(
      new CreateQueueCommand({
        QueueName: `${c.queue}-${c.consumer}.fifo`.replace(/[^A-Za-z0-9_.-]/g, '_'),
        Attributes: { FifoQueue: 'true', VisibilityTimeout: '30' },
      }),
    );
    out.push({ queue: c.queue, consumer: c.consumer, queueUrl: r.QueueUrl! });
  }
  return out;
}

/** Polls one wake-up queue and invokes the handler with what it receives, until aborted. */
export async function pollConsumer(
  sqs: SQSClient,
  queueUrl: string,
  c: LocalConsumer,
  opts: { signal: AbortSignal; timeoutMs?: number; log?: Logger },
): Promise<void> {
  const log = opts.log ?? silentLogger;
  while (!opts.signal.aborted) {
    const r = await sqs
      .send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ['All'],
        }),
        { abortSignal: opts.signal },
      )
      .catch((err: Error) => {
        if (!opts.signal.aborted) log.warn('receive failed', { consumer: c.consumer, error: err.message });
        return { Messages: [] };
      });
    const msgs = r.Messages ?? [];
    if (msgs.length === 0) continue;
    const event: SQSEvent = {
      Records: msgs.map((m) => ({
        messageId: m.MessageId!,
        receiptHandle: m.ReceiptHandle!,
        body: m.Body ?? '',
        attributes: {
          ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
          SentTimestamp: m.Attributes?.SentTimestamp ?? '0',
          SenderId: 'local',
          ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? '0',
          MessageGroupId: m.Attributes?.MessageGroupId,
        },
        messageAttributes: {},
        md5OfBody: m.MD5OfBody ?? '',
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:local:000000000000:${queueUrl.split('/').pop()}`,
        awsRegion: 'local',
      })),
    };
    const res = await c
      .handler(event, localContext(opts.timeoutMs ?? 60_000, c.consumer))
      .catch((err: Error) => {
        log.error('consumer handler threw', { consumer: c.consumer, error: err.message });
        return { batchItemFailures: msgs.map((m) => ({ itemIdentifier: m.MessageId! })) };
      });
    const failed = new Set((res?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    const done = msgs.filter((m) => !failed.has(m.MessageId!));
    if (done.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
  }
}
