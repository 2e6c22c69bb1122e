// The WAL Lambdas' settings from their environment (layers/walmgr/lambda/settings.ts).
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../layers/config/settings.ts';
import { walLambdaSettings } from '../../layers/walmgr/lambda/settings.ts';

describe('walLambdaSettings', () => {
  it('has the documented defaults and treats empty variables as unset', () => {
    expect(walLambdaSettings({ WAL_ARCHIVE_PREFIX: '', WAL_RETENTION_KEEP_LAST: '' })).toEqual({
      prefix: '',
      pending: 16,
      deep: false,
      policy: { keepLast: undefined, maxAgeDays: undefined },
      dryRun: false,
    });
  });

  it('reads every variable', () => {
    expect(
      walLambdaSettings({
        WAL_ARCHIVE_BUCKET: 'b',
        WAL_ARCHIVE_PREFIX: '/pg/main/',
        WAL_VERIFY_PENDING: '4',
        WAL_VERIFY_DEEP: 'true',
        WAL_RETENTION_KEEP_LAST: '7',
        WAL_RETENTION_MAX_AGE_DAYS: '1.5',
        WAL_RETENTION_DRY_RUN: 'true',
      }),
    ).toEqual({
      bucket: 'b',
      prefix: 'pg/main',
      pending: 4,
      deep: true,
      policy: { keepLast: 7, maxAgeDays: 1.5 },
      dryRun: true,
    });
  });

  it('refuses a bad value at cold start, naming the variable', () => {
    expect(() => walLambdaSettings({ WAL_VERIFY_PENDING: 'lots' })).toThrow(ConfigError);
    expect(() => walLambdaSettings({ WAL_RETENTION_KEEP_LAST: '0' })).toThrow(/keep_last = "0": must be ≥ 1/);
  });
});
