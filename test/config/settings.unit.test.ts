// The one settings mechanism: typed values, precedence, errors naming their source, warnings for
// unknown and ignored keys, commander flags.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { readIni } from '../../layers/config/ini.ts';
import {
  ConfigError,
  defineSettings,
  parseSeconds,
  parseSize,
  setting,
} from '../../layers/config/settings.ts';

const SPEC = defineSettings('demo', {
  repo: setting.string({ ini: 'walmgr_data', env: 'DEMO_REPO', flag: '--repo <url>', doc: 'where' }),
  parallel: setting.integer({
    env: 'DEMO_PARALLEL',
    flag: '--parallel <n>',
    default: 4,
    min: 1,
    max: 64,
    doc: 'how many',
  }),
  period: setting.seconds({ default: '20ms', min: 0.01, doc: 'how often' }),
  codec: setting.choice(['zstd', 'gzip', 'none'] as const, {
    default: 'zstd',
    flag: '--codec <c>',
    doc: 'codec',
  }),
  piece: setting.size({ default: '16M', doc: 'piece size' }),
  dbs: setting.list({ aliases: ['database_list'], doc: 'databases' }),
  fast: setting.boolean({ flag: '--fast', doc: 'fast' }),
  syslog: setting.string({ doc: '', ignored: 'use your service manager' }),
});

function iniFile(text: string): string {
  const f = path.join(mkdtempSync(path.join(os.tmpdir(), 'settings-')), 'demo.ini');
  writeFileSync(f, text);
  return f;
}

describe('settings', () => {
  it('gives typed defaults when nothing is set', () => {
    const { values, warnings, origin } = SPEC.load();
    expect(values).toEqual({ parallel: 4, period: 0.02, codec: 'zstd', piece: 16 * 1024 * 1024 });
    expect(warnings).toEqual([]);
    expect(origin.parallel).toBe('default');
    expectTypeOf(values.parallel).toEqualTypeOf<number>();
    expectTypeOf(values.repo).toEqualTypeOf<string | undefined>();
    expectTypeOf(values.codec).toEqualTypeOf<'zstd' | 'gzip' | 'none'>();
    expectTypeOf(values.dbs).toEqualTypeOf<string[] | undefined>();
  });

  it('takes flag over environment over file over default', () => {
    const file = iniFile(
      '[demo]\nwalmgr_data = /from/file\nparallel = 2\nperiod = 2m\ndatabase_list = a, b\n',
    );
    const src = { file: { path: file, section: 'demo', values: readIni(file).demo ?? {} } };
    expect(SPEC.load(src).values).toMatchObject({
      repo: '/from/file',
      parallel: 2,
      period: 120,
      dbs: ['a', 'b'],
    });
    const env = { DEMO_REPO: '/from/env', DEMO_PARALLEL: '3' };
    expect(SPEC.load({ ...src, env }).values).toMatchObject({ repo: '/from/env', parallel: 3 });
    const flags = { repo: '/from/flag', parallel: '5', fast: true };
    const all = SPEC.load({ ...src, env, flags });
    expect(all.values).toMatchObject({ repo: '/from/flag', parallel: 5, fast: true });
    expect(all.origin).toMatchObject({ repo: 'flag', parallel: 'flag', period: 'file', codec: 'default' });
  });

  it('names the source of a bad value', () => {
    const file = iniFile('[demo]\ncodec = lz4\n');
    expect(() =>
      SPEC.load({ file: { path: file, section: 'demo', values: readIni(file).demo ?? {} } }),
    ).toThrow(new ConfigError(`${file} [demo]: codec = "lz4": expected one of: zstd, gzip, none`));
    expect(() => SPEC.load({ env: { DEMO_PARALLEL: '0' } })).toThrow(
      'environment variable DEMO_PARALLEL="0": must be ≥ 1',
    );
    expect(() => SPEC.load({ flags: { parallel: '2.5' } })).toThrow('--parallel "2.5": expected an integer');
    expect(() => SPEC.load({ flags: { codec: 'brotli' } })).toThrow(ConfigError);
  });

  it('warns about unknown keys (with a likely meaning) and ignored ones', () => {
    const file = iniFile('[demo]\ncodek = gzip\nsyslog = 1\nwhatever = x\n');
    const { values, warnings } = SPEC.load({
      file: { path: file, section: 'demo', values: readIni(file).demo ?? {} },
    });
    expect(values.codec).toBe('zstd');
    expect(warnings).toEqual([
      `${file} [demo]: unknown key "codek" ignored (did you mean "codec"?)`,
      `${file} [demo]: unknown key "whatever" ignored`,
      `${file} [demo]: "syslog" is accepted but ignored: use your service manager`,
    ]);
  });

  it('registers its flags on a commander command and reads them back', () => {
    const cmd = SPEC.addOptions(new Command('demo').exitOverride());
    cmd.parse(['--repo', 's3://b/p', '--parallel', '8', '--fast', '--codec', 'none'], { from: 'user' });
    expect(SPEC.load({ flags: cmd.opts() }).values).toMatchObject({
      repo: 's3://b/p',
      parallel: 8,
      fast: true,
      codec: 'none',
    });
    expect(cmd.helpInformation()).toMatch(/--parallel <n>\s+how many \(env DEMO_PARALLEL; default 4\)/);
  });

  it('rejects an invalid default when the spec is declared', () => {
    expect(() => setting.integer({ default: 0, min: 1, doc: '' })).toThrow(/must be ≥ 1/);
    expect(() => setting.seconds({ default: 'soon', doc: '' })).toThrow(/expected seconds/);
  });

  it('parses durations and sizes', () => {
    expect([parseSeconds('200ms'), parseSeconds('1.5'), parseSeconds('2m'), parseSeconds('1h')]).toEqual([
      0.2, 1.5, 120, 3600,
    ]);
    expect(parseSeconds('soon')).toBeNaN();
    expect([parseSize('256k'), parseSize('16M'), parseSize('1G'), parseSize('100')]).toEqual([
      262144, 16777216, 1073741824, 100,
    ]);
    expect(parseSize('16 parsecs')).toBeNaN();
  });

  it('writes a sample ini and a Markdown table from the same specs', () => {
    expect(SPEC.sampleIni()).toContain('# how many; env DEMO_PARALLEL\n#parallel = 4\n');
    expect(SPEC.sampleIni()).not.toContain('syslog');
    expect(SPEC.markdown()).toContain('| `walmgr_data` | `DEMO_REPO` | `--repo` | string |  | where |');
    expect(SPEC.markdown()).toContain(
      '| `parallel` | `DEMO_PARALLEL` | `--parallel` | integer 1…64 | `4` | how many |',
    );
  });
});
