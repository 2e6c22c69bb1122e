export * from './admin.ts';
export * from './config.ts';
export * from './node.ts';
export * from './worker.ts';
