import { consumerHandler } from '../../layers/pgq/lambda/index.ts';

export const handler = consumerHandler({
  handler: async (batch, tx) => {
    for (const ev of batch.events) ev.tagDone(); // work through tx commits with the batch
  },
});
