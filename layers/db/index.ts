export * from './connection.ts';
export * from './connstr.ts';
export * from './ident.ts';
export * from './transaction.ts';
