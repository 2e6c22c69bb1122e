// Bundle sizes of the handlers, built as NodejsFunction builds them (esbuild, ESM, minified,
// AWS SDK external), with the biggest inputs from esbuild's metafile:
//   node infra/bundle-size.ts
// bundleHandler is also what test/infra/bundles.unit.test.ts checks the bundles' inputs with.

import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { FUNCTIONS_DIR, REPO_ROOT } from './constructs/defaults.ts';

export const HANDLERS = [
  'ticker',
  'maintenance',
  'admin',
  'example-consumer',
  'wal-verify',
  'wal-expire',
  'londiste-node',
];

export interface HandlerBundle {
  bytes: number;
  gzipBytes: number;
  /** Input files (repository-relative, node_modules paths included) with their bytes in the output. */
  inputs: Record<string, number>;
}

/** Bundles one entry module with the options NodejsFunction uses (defaults.ts bundledFunction). */
export async function bundleHandler(entry: string): Promise<HandlerBundle> {
  const res = await build({
    entryPoints: [entry],
    // Input paths in the metafile are relative to the repository, wherever this runs from.
    absWorkingDir: REPO_ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    minify: true,
    write: false,
    metafile: true,
    mainFields: ['module', 'main'],
    external: ['@aws-sdk/*', 'pg-native'],
  });
  const code = res.outputFiles[0]!.contents;
  const out = Object.values(res.metafile.outputs)[0]!;
  const inputs = Object.fromEntries(Object.entries(out.inputs).map(([f, i]) => [f, i.bytesInOutput]));
  return { bytes: code.length, gzipBytes: gzipSync(code).length, inputs };
}

async function printTable(): Promise<void> {
  console.log('| handler | bundle | gzip | biggest inputs |');
  console.log('| --- | ---: | ---: | --- |');
  for (const name of HANDLERS) {
    const b = await bundleHandler(path.join(FUNCTIONS_DIR, name, 'handler.ts'));
    const byPkg = new Map<string, number>();
    for (const [file, bytes] of Object.entries(b.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
      const key = m ? m[1]! : file.startsWith('layers/install/generated') ? 'generated SQL' : 'our code';
      byPkg.set(key, (byPkg.get(key) ?? 0) + bytes);
    }
    const top = [...byPkg]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([k, v]) => `${k} ${(v / 1024).toFixed(0)} KiB`)
      .join(', ');
    console.log(
      `| ${name} | ${(b.bytes / 1024).toFixed(0)} KiB | ${(b.gzipBytes / 1024).toFixed(0)} KiB | ${top} |`,
    );
  }
}

if (import.meta.main) await printTable();
