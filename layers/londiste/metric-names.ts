// The names of the metrics a Londiste main worker publishes (metrics.ts) — the contract with the
// LondisteNode construct's alarms and the dashboard (infra/constructs/londiste-metrics.ts), kept
// in this one import-free module so that both sides read the same names.
// Dimensions: Queue and Node (Tables also State), LONDISTE_DIMENSIONS.
//
// Dimension names are PascalCase, as AWS's own (ClusterName, FunctionName, QueueName): the
// convention for every new metric. The ticker's and consumers' older lowercase dimensions
// (database, queue, consumer) stay as they are — renaming them would orphan alarms and history
// users already have; the dashboard finds those by metric name (SEARCH), not by dimension.
export const LONDISTE_METRICS = {
  /** Seconds between now and the provider's tick of the last batch applied (Seconds). */
  lag: 'ReplicationLag',
  /** Row events applied per second over the publishing period (Count/Second). */
  eventsApplied: 'EventsAppliedPerSecond',
  /** Tables in each state, one value per state (dimension State: ok, in-copy, …, missing, failed). */
  tables: 'Tables',
  /** Tables being copied (in-copy … do-sync): each is one copy job / task (Count). */
  copiesRunning: 'CopiesRunning',
  /** Copy tasks that stopped with an error or failed to start, as the ECS launcher saw them (Count). */
  copyFailures: 'CopyTaskFailures',
} as const;

/** The dimension names, one place for the publisher (metrics.ts) and the construct's metrics. */
export const LONDISTE_DIMENSIONS = { queue: 'Queue', node: 'Node', state: 'State' } as const;
