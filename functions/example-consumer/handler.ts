// Example consumer function (infra/app.ts deploys it). Queue and consumer names come from
// PGQ_QUEUE / PGQ_CONSUMER, set by PgqConsumerFunction. Effects written through `tx` commit with
// the batch, so they happen exactly once; anything else (HTTP calls, …) is at-least-once.
import { consumerHandler } from '../../layers/pgq/lambda/index.ts';

export const handler = consumerHandler({
  handler: async (batch) => {
    for (const ev of batch.events) {
      // Real work goes here; tagRetry(seconds) sends an event back to this consumer later.
      ev.tagDone();
    }
  },
});
