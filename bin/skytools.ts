#!/usr/bin/env node
// Entry point of the `skytools` command. Runs as TypeScript directly on Node ≥ 22.18 / 24
// (type stripping), so `archive_command` starts without a build step or a loader.
import { main } from '../cli/main.ts';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  // main() reports every error of a command itself; this is for one it could not (e.g. in the
  // fast path), through the same printer.
  async (err: unknown) => {
    const { reportError } = await import('../layers/errors/exit.ts');
    process.exitCode = reportError(err, { command: process.argv.slice(2, 4).join(' ') });
  },
);
