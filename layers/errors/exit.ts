// The exit-code policy of the `skytools` command and its one error printer. Every command exits
// 1 on error, except where the calling program gives exit codes a meaning (walmgr below, chosen
// for PostgreSQL). Commands return (or set) a code only for non-error outcomes, e.g. restore-wal's
// "not in the archive" or verify's "problems found"; errors are thrown and mapped here.
import { SkytoolsError } from './base.ts';

export const EXIT = {
  ok: 0,
  error: 1,
  /** restore_command: "not in the archive", so PostgreSQL ends archive recovery. */
  notFound: 1,
  /** archive_command: refusing to overwrite different content already archived. */
  refused: 3,
  /** restore_command: > 125 makes PostgreSQL abort recovery rather than treat the segment as missing. */
  restoreFatal: 126,
} as const;

interface CommandPolicy {
  /** `domain:kind` → exit code. */
  codes?: Record<string, number>;
  /** Exit code of any other error (default EXIT.error). */
  other?: number;
  /** Which operand names what the command works on, for the error line (e.g. the WAL file). */
  subject?: number;
}

/** Keyed by the command path as typed: 'walmgr archive', 'setadm'. */
const POLICY: Record<string, CommandPolicy> = {
  'walmgr archive': { codes: { 'wal:refused': EXIT.refused }, subject: 1 },
  'walmgr restore-wal': { other: EXIT.restoreFatal, subject: 0 },
  setadm: { subject: 1 },
  londiste: { subject: 1 },
};

export function exitCodeFor(command: string, err: unknown): number {
  const policy = POLICY[command] ?? {};
  if (err instanceof SkytoolsError) {
    const code = policy.codes?.[`${err.domain}:${err.kind}`];
    if (code !== undefined) return code;
  }
  return policy.other ?? EXIT.error;
}

/** `skytools walmgr archive 000000010000000000000003`: what the error line starts with. */
export function errorLabel(command: string, operands: readonly string[] = []): string {
  const at = POLICY[command]?.subject;
  const subject = at === undefined ? undefined : operands[at];
  return ['skytools', command, subject].filter(Boolean).join(' ');
}

/**
 * Writes the error line (label: message) and, with SKYTOOLS_DEBUG set, the stack and the causes.
 * Returns the exit code for it.
 */
export function reportError(
  err: unknown,
  where: { command: string; operands?: readonly string[] },
  io: { write?: (s: string) => void; env?: NodeJS.ProcessEnv } = {},
): number {
  const write = io.write ?? ((s: string) => process.stderr.write(s));
  const env = io.env ?? process.env;
  const e = err as Error | undefined;
  write(`${errorLabel(where.command, where.operands)}: ${e?.message ?? String(err)}\n`);
  if (env.SKYTOOLS_DEBUG) {
    for (let c: unknown = err, depth = 0; c && depth < 5; c = (c as Error).cause, depth++) {
      const s = (c as Error).stack ?? String(c);
      write(`${depth ? 'caused by: ' : ''}${s}\n`);
    }
  }
  return exitCodeFor(where.command, err);
}
