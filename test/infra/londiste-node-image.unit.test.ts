// The Londiste job image without Docker (none here): the Dockerfile's shape (Node 24 slim,
// production dependencies only, non-root, entry point and command), and that what it copies is
// enough — every file of the CLI's import graph lies in a copied folder, and every package the
// CLI imports at start is a production dependency (dev dependencies only behind the dynamic
// imports of `skytools dev`).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/constructs/defaults.ts';

const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
const instructions = dockerfile
  .split('\n')
  .filter((l) => l.trim() && !l.trimStart().startsWith('#'))
  .map((l) => l.trim());
const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};

describe('Londiste job image', () => {
  it('Node 24 slim, npm ci --omit=dev, runs as the unprivileged node user, skytools londiste worker', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms.every((l) => /^FROM node:24-slim\b/.test(l))).toBe(true);
    expect(instructions).toContainEqual(expect.stringMatching(/^RUN npm ci --omit=dev\b/));
    // The last USER before the entry point is not root.
    const users = instructions.filter((l) => l.startsWith('USER '));
    expect(users.at(-1)).toBe('USER node');
    expect(instructions.at(-2)).toBe('ENTRYPOINT ["node", "bin/skytools.js"]');
    expect(instructions.at(-1)).toBe('CMD ["londiste", "worker"]');
    expect(dockerfile).toMatch(/NODE_EXTRA_CA_CERTS=\S*rds-global-bundle\.pem/);
    expect(dockerfile).toMatch(/LOG_FORMAT=json/);
  });

  it("copies every folder of the CLI's import graph, and the CLI needs only production dependencies", async () => {
    const res = await build({
      entryPoints: ['bin/skytools.js'],
      absWorkingDir: REPO_ROOT,
      bundle: true,
      platform: 'node',
      format: 'esm',
      write: false,
      metafile: true,
      packages: 'external',
      splitting: true,
      outdir: 'out',
    });
    const copied = instructions
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .map((l) => l.split(/\s+/)[1]!);
    const folders = new Set(Object.keys(res.metafile.inputs).map((f) => f.split('/')[0]!));
    for (const f of folders) expect(copied, `Dockerfile copies ${f}/`).toContain(f);
    // The schema files the installer reads at run time.
    expect(copied).toContain('sql');
    const notProd: string[] = [];
    for (const [file, input] of Object.entries(res.metafile.inputs)) {
      for (const imp of input.imports) {
        if (!imp.external || imp.path.startsWith('node:')) continue;
        const name = imp.path.startsWith('@')
          ? imp.path.split('/').slice(0, 2).join('/')
          : imp.path.split('/')[0]!;
        if (pkg.dependencies[name]) continue;
        // `skytools dev` loads the embedded server and the SQS emulator on demand, never in a task.
        if (imp.kind === 'dynamic-import' && file.startsWith('layers/dev/')) continue;
        notProd.push(`${file} → ${name} (${imp.kind})`);
      }
    }
    expect(notProd).toEqual([]);
  });
});
