// The commands' log level: -v / -q first, then LOG_LEVEL (only a level's name counts), then the
// command's default; a logger created without a level reads LOG_LEVEL the same way.
import { afterEach, describe, expect, it } from 'vitest';
import { commandLogLevel, createLogger } from '../../layers/util/log.ts';

const saved = process.env.LOG_LEVEL;
afterEach(() => {
  if (saved === undefined) delete process.env.LOG_LEVEL;
  else process.env.LOG_LEVEL = saved;
});

describe('commandLogLevel', () => {
  it('-v and -q win over LOG_LEVEL; LOG_LEVEL over the default', () => {
    process.env.LOG_LEVEL = 'error';
    expect(commandLogLevel({ verbose: true })).toBe('debug');
    expect(commandLogLevel({ quiet: true })).toBe('warn');
    expect(commandLogLevel({})).toBe('error');
    delete process.env.LOG_LEVEL;
    expect(commandLogLevel({})).toBe('info');
    expect(commandLogLevel({}, 'warn')).toBe('warn');
  });

  it('a LOG_LEVEL that names no level is ignored, not taken to let everything through', () => {
    process.env.LOG_LEVEL = 'verbose';
    expect(commandLogLevel({})).toBe('info');
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l), json: true });
    log.debug('hidden');
    log.info('shown');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['shown']);
    process.env.LOG_LEVEL = 'debug';
    createLogger({ write: (l) => lines.push(l), json: true }).debug('now shown');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['shown', 'now shown']);
  });
});
