// The container's SQS client. Nothing here knows what the messages mean (PgQ's wake-ups live in
// layers/pgq/lambda/wakeup.ts).
import { SQSClient } from '@aws-sdk/client-sqs';

let sqs: SQSClient | null = null;

/**
 * One SQS client per container. AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL (fauxqs, LocalStack) is
 * passed as an explicit endpoint so queue URLs of the emulator are not taken as endpoints.
 */
export function sqsClient(): SQSClient {
  const endpoint = process.env.AWS_ENDPOINT_URL_SQS ?? process.env.AWS_ENDPOINT_URL;
  sqs ??= new SQSClient(endpoint ? { endpoint } : {});
  return sqs;
}
