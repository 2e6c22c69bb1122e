#!/usr/bin/env node
// Entry point of the `skytools` command. Runs as TypeScript directly on Node ≥ 22.18 / 24
// (type stripping), so `archive_command` starts without a build step or a loader.
import { main } from '../cli/main.ts';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as Error;
    process.stderr.write(`skytools: ${e?.message ?? String(err)}\n`);
    if (process.env.SKYTOOLS_DEBUG && e?.stack) process.stderr.write(`${e.stack}\n`);
    process.exitCode = 1;
  },
);
