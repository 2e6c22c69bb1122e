export * from './connection.ts';
export * from './ident.ts';
export * from './transaction.ts';
export * from './connstr.ts';
