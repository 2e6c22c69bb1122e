// An SQS endpoint over HTTP for the function tests: in-process fauxqs, or the endpoint named by
// AWS_ENDPOINT_URL (e.g. LocalStack) when set. Also turns received messages into the SQSEvent
// Lambda's event source mapping would deliver, so handlers get the real messages.
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';

export interface SqsEndpoint {
  endpoint: string;
  client: SQSClient;
  /** Creates a FIFO queue (name without .fifo) and returns its URL. */
  fifoQueue(name: string, visibilityTimeoutS?: number): Promise<string>;
  /** Receives up to 10 messages (long-polls up to waitS seconds). */
  receive(queueUrl: string, waitS?: number): Promise<Message[]>;
  /** Deletes what Lambda deletes after an invocation: every message not reported as failed. */
  deleteDone(queueUrl: string, messages: Message[], failedIds?: string[]): Promise<void>;
  stop(): Promise<void>;
}

/** Credentials and region for SDK clients, the in-process handlers included. */
export function awsTestEnv(): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'test',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
  };
}

export async function startSqs(): Promise<SqsEndpoint> {
  for (const [k, v] of Object.entries(awsTestEnv())) process.env[k] ??= v;
  let endpoint = process.env.AWS_ENDPOINT_URL;
  let stopServer = async () => {};
  if (!endpoint) {
    const { startFauxqs } = await import('fauxqs');
    const server = await startFauxqs({ port: 0, logger: false, host: '127.0.0.1' });
    endpoint = `http://127.0.0.1:${server.port}`;
    stopServer = () => server.stop();
  }
  const client = new SQSClient({ endpoint, region: awsTestEnv().AWS_REGION });
  return {
    endpoint,
    client,
    async fifoQueue(name, visibilityTimeoutS = 30) {
      const r = await client.send(
        new CreateQueueCommand({
          QueueName: `${name}.fifo`,
          Attributes: { FifoQueue: 'true', VisibilityTimeout: String(visibilityTimeoutS) },
        }),
      );
      return r.QueueUrl!;
    },
    async receive(queueUrl, waitS = 0) {
      const r = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: waitS,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      return r.Messages ?? [];
    },
    async deleteDone(queueUrl, messages, failedIds = []) {
      const done = messages.filter((m) => !failedIds.includes(m.MessageId!));
      if (done.length === 0) return;
      await client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    },
    async stop() {
      client.destroy();
      await stopServer();
    },
  };
}

export async function queueArn(client: SQSClient, queueUrl: string): Promise<string> {
  const r = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  return r.Attributes?.QueueArn ?? `arn:aws:sqs:us-east-1:000000000000:${queueUrl.split('/').pop()}`;
}

/** The event Lambda's SQS event source mapping builds from received messages. */
export function sqsEvent(messages: Message[], arn: string): SQSEvent {
  return {
    Records: messages.map((m) => ({
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      body: m.Body ?? '',
      attributes: {
        ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
        SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
        SenderId: m.Attributes?.SenderId ?? 'test',
        ApproximateFirstReceiveTimestamp:
          m.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
        MessageGroupId: m.Attributes?.MessageGroupId,
        MessageDeduplicationId: m.Attributes?.MessageDeduplicationId,
        SequenceNumber: m.Attributes?.SequenceNumber,
      },
      messageAttributes: {},
      md5OfBody: m.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: arn,
      awsRegion: process.env.AWS_REGION ?? 'us-east-1',
    })),
  };
}

/** A Lambda context for invoking handlers directly (the Lambda service itself cannot run here). */
export function fakeContext(timeoutMs: number, name = 'test-fn') {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
    memoryLimitInMB: '256',
    awsRequestId: `req-${Math.random().toString(16).slice(2)}`,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done() {},
    fail() {},
    succeed() {},
  };
}
