// The WAL Lambdas' settings from their environment (layers/walmgr/lambda/settings.ts).
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../layers/config/settings.ts';
import { walExpireSettings, walVerifySettings } from '../../layers/walmgr/lambda/settings.ts';

describe('WAL Lambda settings', () => {
  it('have the documented defaults and treat empty variables as unset', () => {
    expect(walVerifySettings({ WAL_ARCHIVE_PREFIX: '' })).toEqual({ prefix: '', pending: 16, deep: false });
    expect(walExpireSettings({ WAL_RETENTION_KEEP_LAST: '' })).toEqual({
      prefix: '',
      policy: { keepLast: undefined, maxAgeDays: undefined },
      dryRun: false,
    });
  });

  it('read every variable', () => {
    const env = {
      WAL_ARCHIVE_BUCKET: 'b',
      WAL_ARCHIVE_PREFIX: '/pg/main/',
      WAL_VERIFY_PENDING: '4',
      WAL_VERIFY_DEEP: 'true',
      WAL_RETENTION_KEEP_LAST: '7',
      WAL_RETENTION_MAX_AGE_DAYS: '1.5',
      WAL_RETENTION_DRY_RUN: 'true',
    };
    expect(walVerifySettings(env)).toEqual({ prefix: 'pg/main', pending: 4, deep: true });
    expect(walExpireSettings(env)).toEqual({
      bucket: 'b',
      prefix: 'pg/main',
      policy: { keepLast: 7, maxAgeDays: 1.5 },
      dryRun: true,
    });
  });

  it('refuse a bad value at cold start, naming the variable', () => {
    expect(() => walVerifySettings({ WAL_VERIFY_PENDING: 'lots' })).toThrow(ConfigError);
    expect(() => walExpireSettings({ WAL_RETENTION_KEEP_LAST: '0' })).toThrow(
      'environment variable WAL_RETENTION_KEEP_LAST="0": must be ≥ 1',
    );
  });
});
