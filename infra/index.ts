export * from './constructs/dashboard.ts';
export * from './constructs/defaults.ts';
export * from './constructs/pgq-admin.ts';
export * from './constructs/pgq-consumer-function.ts';
export * from './constructs/pgq-maintenance.ts';
export * from './constructs/pgq-ticker.ts';
export * from './constructs/wal-archive.ts';
export * from './stack.ts';
