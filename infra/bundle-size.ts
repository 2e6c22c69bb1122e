// Bundle sizes of the handlers, built as NodejsFunction builds them (esbuild, ESM, minified,
// AWS SDK external), with the biggest inputs from esbuild's metafile:
//   node infra/bundle-size.ts

import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { FUNCTIONS_DIR } from './constructs/defaults.ts';

const handlers = ['ticker', 'maintenance', 'admin', 'example-consumer', 'wal-verify', 'wal-expire'];
console.log('| handler | bundle | gzip | biggest inputs |');
console.log('| --- | ---: | ---: | --- |');
for (const name of handlers) {
  const res = await build({
    entryPoints: [path.join(FUNCTIONS_DIR, name, 'handler.ts')],
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
  const byPkg = new Map<string, number>();
  for (const [file, info] of Object.entries(out.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    const key = m ? m[1]! : file.startsWith('layers/install/generated') ? 'generated SQL' : 'our code';
    byPkg.set(key, (byPkg.get(key) ?? 0) + info.bytesInOutput);
  }
  const top = [...byPkg]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([k, v]) => `${k} ${(v / 1024).toFixed(0)} KiB`)
    .join(', ');
  console.log(
    `| ${name} | ${(code.length / 1024).toFixed(0)} KiB | ${(gzipSync(code).length / 1024).toFixed(0)} KiB | ${top} |`,
  );
}
