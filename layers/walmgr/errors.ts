// walmgr's errors: WalError and its kinds are part of the shared error scheme (layers/errors/);
// the exit codes PostgreSQL needs from archive_command / restore_command are in
// layers/errors/exit.ts, the CLI's one exit policy.
export { WalError, type WalErrorKind } from '../errors/domains.ts';
