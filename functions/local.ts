// Runs the deployed path locally: the ticker handler back to back (as the schedule would) and
// each consumer function fed from its SQS wake-up queue on a local endpoint.
//
//   DATABASE_URL=postgres://… node functions/local.ts orders:billing=./my-consumer.ts [queue:consumer=file …]
//
// SQS: AWS_ENDPOINT_URL (e.g. LocalStack), else the in-process emulator fauxqs (a devDependency).
// Each consumer file exports `handler` (e.g. consumerHandler({ handler })); PGQ_QUEUE and
// PGQ_CONSUMER are set per consumer before its module is loaded.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { sqsClient } from '../layers/aws/sqs.ts';
import {
  createWakeupQueues,
  type LocalConsumer,
  localContext,
  pollConsumer,
} from '../layers/pgq/lambda/index.ts';

const specs = process.argv.slice(2).map((arg) => {
  const m = /^([^:=]+):([^=]+)=(.+)$/.exec(arg);
  if (!m) throw new Error(`expected queue:consumer=handler-file, got ${JSON.stringify(arg)}`);
  return { queue: m[1]!, consumer: m[2]!, file: path.resolve(m[3]!) };
});
let stopEmulator = async () => {};
if (!process.env.AWS_ENDPOINT_URL) {
  const { startFauxqs } = await import('fauxqs');
  const server = await startFauxqs({ port: 0, logger: false, host: '127.0.0.1' });
  process.env.AWS_ENDPOINT_URL = `http://127.0.0.1:${server.port}`;
  stopEmulator = () => server.stop();
}
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'local';
process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
const sqs = sqsClient();
const targets = await createWakeupQueues(sqs, specs);
process.env.PGQ_WAKEUP_TARGETS = JSON.stringify(targets);
const consumers: (LocalConsumer & { url: string })[] = [];
for (const [i, s] of specs.entries()) {
  process.env.PGQ_QUEUE = s.queue;
  process.env.PGQ_CONSUMER = s.consumer;
  // A query string gives each consumer its own module instance (and container singletons).
  const mod = await import(`${pathToFileURL(s.file).href}?consumer=${i}`);
  consumers.push({ ...s, handler: mod.handler, url: targets[i]!.queueUrl });
}
const { handler: ticker } = await import('./ticker/handler.ts');
const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());
console.error(`SQS at ${process.env.AWS_ENDPOINT_URL}; ${consumers.length} consumer(s); Ctrl-C stops`);
const polls = consumers.map((c) => pollConsumer(sqs, c.url, c, { signal: stop.signal }));
// The ticker invocations run back to back, as the schedule would start them. On Ctrl-C the
// running one is not waited for (it may have a minute to go): ending the process closes its
// connection, which ends its transaction and frees the ticker lock — nothing half-done remains.
void (async () => {
  while (!stop.signal.aborted) {
    await ticker({ time: new Date().toISOString() }, localContext(63_000, 'ticker'));
  }
})();
await new Promise((resolve) => stop.signal.addEventListener('abort', resolve, { once: true }));
await Promise.all(polls);
await stopEmulator();
console.error('stopped');
// This entry point is the process: the handlers' per-container pools stay open (as in a Lambda
// container between invocations), so end it here.
process.exit(0);
