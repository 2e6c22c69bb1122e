export * from './batch-loop.ts';
export * from './consumer.ts';
export * from './consumer-loop.ts';
export * from './coop-consumer.ts';
export * from './errors.ts';
export * from './producer.ts';
export * from './remote-consumer.ts';
export * from './ticker.ts';
