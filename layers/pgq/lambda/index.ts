export * from './admin.ts';
export * from './consumer.ts';
export * from './container.ts';
export * from './local.ts';
export * from './maintenance.ts';
export * from './settings.ts';
export * from './ticker.ts';
export * from './wakeup.ts';
