// The CLI's one exit policy and error printer (layers/errors/exit.ts).
import { describe, expect, it } from 'vitest';
import { CascadeError, ConfigError, PgqError, StorageError, WalError } from '../../layers/errors/domains.ts';
import { errorLabel, exitCodeFor, reportError } from '../../layers/errors/exit.ts';

describe('exit codes', () => {
  it.each([
    // archive_command: only "refusing to overwrite" is 3, so an operator can tell it apart.
    ['walmgr archive', new WalError('refused', 'refusing to overwrite'), 3],
    ['walmgr archive', new WalError('corrupt', 'bad page'), 1],
    ['walmgr archive', new WalError('not-found', 'no such file'), 1],
    ['walmgr archive', new StorageError('io', 'PUT failed'), 1],
    ['walmgr archive', new ConfigError('--parallel "0"'), 1],
    ['walmgr archive', new Error('plain'), 1],
    // restore_command: any error stops recovery (126); "not archived" is a result, not an error.
    ['walmgr restore-wal', new WalError('corrupt', 'checksum'), 126],
    ['walmgr restore-wal', new WalError('not-found', 'gone'), 126],
    ['walmgr restore-wal', new StorageError('io', 'GET failed'), 126],
    ['walmgr restore-wal', new ConfigError('bad flag'), 126],
    ['walmgr restore-wal', new TypeError('bug'), 126],
    // Everything else: 1, whatever the kind.
    ['walmgr stream', new WalError('refused', 'x'), 1],
    ['walmgr boot', new WalError('refused', 'not in recovery'), 1],
    ['setadm', new CascadeError('usage', 'needs a node'), 1],
    ['qadmin', new PgqError('invalid_statement', 'syntax error'), 1],
    ['pgqd', new ConfigError('no [pgqd] section'), 1],
    ['', 'not even an Error', 1],
  ] as const)('%s: %o → %i', (command, err, code) => {
    expect(exitCodeFor(command, err)).toBe(code);
  });
});

describe('the error printer', () => {
  it('names the command and what it worked on', () => {
    expect(
      errorLabel('walmgr archive', ['pg_wal/000000010000000000000003', '000000010000000000000003']),
    ).toBe('skytools walmgr archive 000000010000000000000003');
    expect(errorLabel('walmgr restore-wal', ['000000010000000000000004', 'pg_wal/RECOVERYXLOG'])).toBe(
      'skytools walmgr restore-wal 000000010000000000000004',
    );
    expect(errorLabel('setadm', ['node.ini', 'status'])).toBe('skytools setadm status');
    expect(errorLabel('qadmin', ['show', 'queue'])).toBe('skytools qadmin');
  });

  it('prints one line, and the stack with causes only under SKYTOOLS_DEBUG', () => {
    const cause = new Error('ECONNREFUSED');
    const err = new StorageError('io', 'PUT x failed', { cause });
    let out = '';
    const write = (s: string) => {
      out += s;
    };
    const where = { command: 'walmgr archive', operands: ['p', '000000010000000000000003'] };
    expect(reportError(err, where, { write, env: {} })).toBe(1);
    expect(out).toBe('skytools walmgr archive 000000010000000000000003: PUT x failed\n');
    out = '';
    expect(
      reportError(new WalError('refused', 'refusing'), where, { write, env: { SKYTOOLS_DEBUG: '1' } }),
    ).toBe(3);
    expect(out.split('\n')[0]).toBe('skytools walmgr archive 000000010000000000000003: refusing');
    expect(out).toMatch(/WalError: refusing\n\s+at /);
    out = '';
    reportError(err, where, { write, env: { SKYTOOLS_DEBUG: '1' } });
    expect(out).toMatch(/caused by: Error: ECONNREFUSED/);
  });
});
