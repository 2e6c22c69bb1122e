// What the handlers' bundles are made of (esbuild metafile, built as NodejsFunction builds them):
// the WAL Lambdas take neither pg nor any PgQ code, and layers/aws — the cloud runtime every tool
// shares — pulls in no tool's folder.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleHandler } from '../../infra/bundle-size.ts';
import { FUNCTIONS_DIR, REPO_ROOT } from '../../infra/constructs/defaults.ts';

const TOOL_FOLDER = /^layers\/(pgq|cascade|londiste|walmgr)\//;
const isPg = (file: string) => /node_modules\/(pg|pg-[^/]+)\//.test(file);

describe('handler bundles', () => {
  it.each(['wal-verify', 'wal-expire'])(
    '%s bundles neither pg nor PgQ, cascade or the PgQ Lambda forms',
    async (name) => {
      const { inputs } = await bundleHandler(path.join(FUNCTIONS_DIR, name, 'handler.ts'));
      const files = Object.keys(inputs);
      expect(files).toContain(`functions/${name}/handler.ts`);
      expect(files).toContain('layers/aws/observability.ts');
      expect(files.filter(isPg)).toEqual([]);
      expect(files.filter((f) => /^layers\/(pgq|cascade|db)\//.test(f))).toEqual([]);
    },
  );

  it('the ticker bundle does take pg, layers/aws/database.ts and the PgQ Lambda forms (the filters see them)', async () => {
    const { inputs } = await bundleHandler(path.join(FUNCTIONS_DIR, 'ticker', 'handler.ts'));
    const files = Object.keys(inputs);
    expect(files.some(isPg)).toBe(true);
    expect(files).toContain('layers/pgq/lambda/ticker.ts');
    expect(files).toContain('layers/aws/database.ts');
  });

  const awsModules = readdirSync(path.join(REPO_ROOT, 'layers/aws')).filter((f) => f.endsWith('.ts'));
  it.each(awsModules)('layers/aws/%s imports no tool folder', async (file) => {
    const { inputs } = await bundleHandler(path.join(REPO_ROOT, 'layers/aws', file));
    expect(Object.keys(inputs).filter((f) => TOOL_FOLDER.test(f))).toEqual([]);
  });
});
