#!/usr/bin/env node
// Entry point of the `skytools` command (package.json "bin"). Plain JavaScript on purpose: Node
// strips the types of a .ts entry itself, and starting its stripper (swc as WebAssembly) cost
// ~0.09 s CPU of every command's ~0.33 s start. Everything after it is TypeScript, run by Node's
// type stripping (Node ≥ 22.18 / 24), so `archive_command` needs no build step or loader; with the
// compile cache below, those modules come stripped and compiled from disk and the stripper is
// not started at all. `bin/skytools.ts` is the same entry for callers that name it.
import { constants, enableCompileCache } from 'node:module';
import { tmpdir } from 'node:os';

// Stripping the types and compiling ~40 modules is most of a command's start-up CPU; Node's
// on-disk compile cache keeps both the stripped text and the V8 code between runs. It never
// throws (a read-only tmpdir only leaves it off), can be moved with NODE_COMPILE_CACHE=dir and
// turned off with NODE_DISABLE_COMPILE_CACHE=1. Enabled before the first import of our modules,
// which is why main is imported dynamically.
// The default directory is shared by every OS user (<tmpdir>/node-compile-cache): created by root
// first, it is unwritable for postgres, whose archive_command and backups then strip and compile
// every module on each start (0.8 s of CPU per call, measured). Then a directory of our own.
if (enableCompileCache().status === constants.compileCacheStatus.FAILED)
  enableCompileCache(`${tmpdir()}/node-compile-cache-${process.getuid?.() ?? 'user'}`);
const { main } = await import('../cli/main.ts');

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  // main() reports every error of a command itself; this is for one it could not (e.g. in the
  // fast path), through the same printer.
  async (err) => {
    const { reportError } = await import('../layers/errors/exit.ts');
    process.exitCode = reportError(err, { command: process.argv.slice(2, 4).join(' ') });
  },
);
