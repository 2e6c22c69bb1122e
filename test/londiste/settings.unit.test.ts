// The [londiste] section through the one settings mechanism: the original's keys and defaults,
// its interpolation (%(job_name)s, ${key}), warnings for unknown and ignored keys, and errors
// that name the file, section and key.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../layers/config/settings.ts';
import { configureHandlers } from '../../layers/londiste/handlers/index.ts';
import {
  copyStreamsFor,
  DEFAULT_PARALLEL_COPIES,
  HANDLER_CONF_KEYS,
  LONDISTE_SETTINGS,
  loadLondisteConfig,
} from '../../layers/londiste/settings.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'londiste-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ini(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

const env = {};

describe('loadLondisteConfig', () => {
  it('gives a copy copy_streams, or threaded_copy_pool_size for the tables threaded_copy_tables names', () => {
    const base = ['[londiste]', 'db = dbname=db1', 'queue_name = q'];
    const dflt = loadLondisteConfig(ini('cs1.ini', base.join('\n')), { env });
    expect([dflt.copyStreams, dflt.copyMinRowsPerStream]).toEqual([1, 250_000]);
    expect(copyStreamsFor(dflt, 'public.big')).toBe(1);
    const cfg = loadLondisteConfig(
      ini(
        'cs2.ini',
        [
          ...base,
          'copy_streams = 1',
          'copy_min_rows_per_stream = 0',
          'threaded_copy_tables = archive.*, big_*',
          'threaded_copy_pool_size = 6',
        ].join('\n'),
      ),
      { env },
    );
    expect(cfg.copyMinRowsPerStream).toBe(0);
    expect(copyStreamsFor(cfg, 'archive.log_2026')).toBe(6);
    expect(copyStreamsFor(cfg, 'public.big_one')).toBe(6);
    expect(copyStreamsFor(cfg, 'public.small')).toBe(1);
  });

  it("reads the original's keys, with the original's defaults where ours are not chosen otherwise", () => {
    const file = ini(
      'st3_db1.ini',
      [
        '[londiste]',
        'db = dbname=db1',
        'queue_name = replika',
        'logfile = /var/log/londiste/%(job_name)s.log',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the ini's own ${key} syntax
        'pidfile = ${config_dir}/%(job_name)s.pid',
        'node_name = n1',
        'public_node_location = host=db1.internal dbname=db1',
        'initial_provider_location = dbname=db0',
        'local_only = yes',
        'lock_timeout = 2.5',
        'table_filter = t1, s.t2',
        'loop_delay = 0.2',
        'handler_modules = ./my-handler.ts',
        'register_skip_tables = public.tmp',
        '',
      ].join('\n'),
    );
    const cfg = loadLondisteConfig(file, { env });
    expect(cfg).toMatchObject({
      section: 'londiste',
      jobName: 'st3_db1',
      worker: 'st3_db1',
      queue: 'replika',
      db: 'dbname=db1',
      nodeName: 'n1',
      publicLocation: 'host=db1.internal dbname=db1',
      initialProvider: 'dbname=db0',
      logfile: '/var/log/londiste/st3_db1.log',
      pidfile: `${dir}/st3_db1.pid`,
      parallelCopies: DEFAULT_PARALLEL_COPIES,
      localOnly: true,
      localOnlyDropExecute: false,
      lockTimeoutMs: 2500,
      tableFilter: ['t1', 's.t2'],
      lazyFetch: 300,
      loopDelayMs: 200,
      handlerModules: ['./my-handler.ts'],
      registerSkipTables: ['public.tmp'],
      registerOnlyTables: [],
      threadedCopyPoolSize: 1,
      warnings: [],
    });
    expect(DEFAULT_PARALLEL_COPIES).toBe(4);
  });

  it('job_name from the file wins over the file name, in values referring to it too; $$ and %% escape', () => {
    const cfg = loadLondisteConfig(
      ini(
        'x.ini',
        '[londiste]\njob_name = l3_leaf\nqueue_name = q\ndb = dbname=a\nlogfile = %(job_name)s-%%.log\nnode_name = $${job_name}\n',
      ),
      { env },
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the ini's own ${key} syntax
    expect([cfg.jobName, cfg.logfile, cfg.nodeName]).toEqual(['l3_leaf', 'l3_leaf-%.log', '${job_name}']);
  });

  it('accepts pgq_queue_name, $DATABASE_URL and the only section of a file', () => {
    const cfg = loadLondisteConfig(ini('one.ini', '[replica_job]\npgq_queue_name = q2\n'), {
      env: { DATABASE_URL: 'postgres://h/db' },
    });
    expect([cfg.section, cfg.queue, cfg.db, cfg.jobName]).toEqual([
      'replica_job',
      'q2',
      'postgres://h/db',
      'one',
    ]);
  });

  it('warns about unknown keys with the nearest known one, and about keys it accepts but ignores', () => {
    const cfg = loadLondisteConfig(
      ini('w.ini', '[londiste]\nqueue_name = q\ndb = dbname=a\nparalel_copies = 3\nlog_size = 1M\n'),
      { env },
    );
    expect(cfg.parallelCopies).toBe(4);
    expect(cfg.warnings).toEqual([
      `${dir}/w.ini [londiste]: unknown key "paralel_copies" ignored (did you mean "parallel_copies"?)`,
      `${dir}/w.ini [londiste]: "log_size" is accepted but ignored: logfile is appended to; rotate it with logrotate`,
    ]);
  });

  it("takes the built-in handlers' own keys (shard, obfuscate) without an unknown-key warning", () => {
    const cfg = loadLondisteConfig(
      ini(
        'h.ini',
        '[londiste]\nqueue_name = q\ndb = dbname=a\nshard_hash_func = hashtext\nshard_info_sql = select 1, 0, 1\n' +
          'obfuscator_key = k\nobfuscator_map = map.yaml\nshard_hash_fnc = typo\n',
      ),
      { env },
    );
    expect(cfg.warnings).toEqual([
      `${dir}/h.ini [londiste]: unknown key "shard_hash_fnc" ignored (did you mean "shard_hash_func"?)`,
    ]);
  });

  it('HANDLER_CONF_KEYS are exactly the keys the registered handlers read in their loadConf', () => {
    const asked = new Set<string>();
    configureHandlers({
      get: (k) => {
        asked.add(k);
        return undefined;
      },
      configDir: dir,
    });
    expect([...asked].sort()).toEqual([...HANDLER_CONF_KEYS].sort());
  });

  it.each([
    ['[londiste]\ndb = dbname=a\n', 'w1.ini [londiste]: queue_name is not set'],
    ['[londiste]\nqueue_name = q\n', 'w2.ini [londiste]: db (connect string of this node) is not set'],
    [
      '[londiste]\nqueue_name = q\ndb = x\nparallel_copies = 0\n',
      'w3.ini [londiste]: parallel_copies = "0": must be ≥ 1',
    ],
    [
      '[londiste]\nqueue_name = q\ndb = x\nlocal_only = maybe\n',
      'w4.ini [londiste]: local_only = "maybe": expected on or off',
    ],
    [
      '[londiste]\nqueue_name = q\ndb = x\nlogfile = %(nope)s\n',
      'w5.ini [londiste]: logfile refers to unknown key "nope"',
    ],
    [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the ini's own ${key} syntax
      '[londiste]\nqueue_name = q\ndb = ${node_name}\nnode_name = ${db}\n',
      'w6.ini [londiste]: reference loop db → node_name → db',
    ],
    ['[a]\nqueue_name = q\n[b]\nqueue_name = r\n', 'w7.ini: no [londiste] section (found: [a] [b])'],
  ])('%j → ConfigError naming the source', (text, msg) => {
    const name = /^(w\d)\.ini/.exec(msg)![1]!;
    const file = ini(`${name}.ini`, text);
    let err: unknown;
    try {
      loadLondisteConfig(file, { env: {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(`${dir}/${msg}`);
  });

  it('takes another section when asked (--section)', () => {
    const file = ini('two.ini', '[londiste]\nqueue_name = q\ndb = a\n[other]\nqueue_name = r\ndb = b\n');
    expect(loadLondisteConfig(file, { section: 'other', env }).queue).toBe('r');
  });
});

describe('LONDISTE_SETTINGS', () => {
  it("extends the cascade job's keys and documents every key", () => {
    const md = LONDISTE_SETTINGS.markdown();
    for (const k of [
      'job_name',
      'db',
      'queue_name',
      'node_name',
      'public_node_location',
      'initial_provider_location',
      'parallel_copies',
      'local_only',
      'lock_timeout',
      'table_filter',
      'logfile',
      'pidfile',
      'loop_delay',
      'pgq_lazy_fetch',
      'handler_modules',
    ]) {
      expect(md, k).toContain(`| \`${k}\``);
    }
    expect(LONDISTE_SETTINGS.sampleIni()).toMatch(/^\[londiste\]\n/);
  });
});
