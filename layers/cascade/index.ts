export * from './admin.ts';
export * from './node.ts';
export * from './settings.ts';
export * from './worker.ts';
