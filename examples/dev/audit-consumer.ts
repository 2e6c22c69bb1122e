// Demo consumer for the local stack: copies each order change from queue demo_orders into
// demo.order_audit, in the batch's own transaction (so each event is recorded exactly once).
import type { BatchHandler } from '../../layers/pgq/consumer.ts';

const handler: BatchHandler = async (batch, client) => {
  for (const ev of batch.events) {
    // logutriga: ev_type is "<op>:<pkey columns>", ev_data the url-encoded row.
    const op = ev.type?.split(':')[0] ?? '?';
    const row = new URLSearchParams(ev.data ?? '');
    await client.query(
      `insert into demo.order_audit (ev_id, op, order_id, row_data, produced_at)
       values ($1, $2, $3, $4, $5) on conflict (ev_id) do nothing`,
      [ev.id, op, row.get('id'), ev.data, ev.time],
    );
    ev.tagDone();
  }
};

export default handler;
