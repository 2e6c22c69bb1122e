// `multimaster`: the original applies each event through `merge_on_time`, a PL/Python function
// of its own (conflicts resolved by a timestamp column) that is not part of any installed schema
// and needs PL/Python on every node. Neither exists here, so the handler is listed — saying so —
// and refused when a table would use it, rather than replicating with a function that is absent.
import { LondisteError } from '../errors.ts';
import type { HandlerSpec } from '../handler.ts';

export const multimasterHandlerSpec: HandlerSpec = {
  name: 'multimaster',
  summary:
    'Not available: replica with multiple master nodes needs the PL/Python merge_on_time function, which this build does not provide (use applyfn with a function of your own).',
  args: [],
  create: (tableName) => {
    throw new LondisteError(
      'usage',
      `handler multimaster for ${tableName}: not available here — it needs the PL/Python function merge_on_time; apply the events with applyfn(func_name=…) and a function of your own instead`,
    );
  },
};
