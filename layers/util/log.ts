// Minimal structured logger: JSON lines in Lambda / when LOG_FORMAT=json, readable text on a
// terminal. Scope fields (queue, consumer, batchId, …) are carried by child loggers.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/**
 * Fields of a log line. The scope keys every module shares are typed, so one name means one thing
 * across tools (a dashboard filters on `queue` or `walSegment` wherever the line came from);
 * anything else may ride along.
 */
export interface LogFields {
  database?: string;
  queue?: string;
  consumer?: string;
  subconsumer?: string;
  worker?: string;
  node?: string;
  batchId?: bigint | number | null;
  tickId?: bigint | number | null;
  table?: string;
  walSegment?: string;
  backup?: string;
  error?: string;
  [key: string]: unknown;
}

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const isLevel = (v: string | undefined): v is LogLevel => v !== undefined && Object.hasOwn(ORDER, v);

/**
 * A command's log level: `-v` debug, `-q` warn, else LOG_LEVEL when it names a level, else
 * `fallback`. (A LOG_LEVEL that names none is ignored rather than letting every line through.)
 */
export function commandLogLevel(
  flags: { verbose?: boolean; quiet?: boolean },
  fallback: LogLevel = 'info',
): LogLevel {
  if (flags.verbose) return 'debug';
  if (flags.quiet) return 'warn';
  const env = process.env.LOG_LEVEL;
  return isLevel(env) ? env : fallback;
}

export function createLogger(
  opts: { level?: LogLevel; json?: boolean; write?: (line: string) => void; fields?: LogFields } = {},
): Logger {
  const level = opts.level ?? commandLogLevel({});
  const json = opts.json ?? (process.env.LOG_FORMAT === 'json' || !!process.env.AWS_LAMBDA_FUNCTION_NAME);
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const base = opts.fields ?? {};
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[lvl] < ORDER[level]) return;
    const all = { ...base, ...fields };
    if (json) {
      write(JSON.stringify({ level: lvl, time: new Date().toISOString(), msg, ...all }, jsonSafe));
    } else {
      const extra = Object.entries(all)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v, jsonSafe)}`)
        .join(' ');
      write(
        `${new Date().toISOString().slice(11, 23)} ${lvl.toUpperCase().padEnd(5)} ${msg}${extra ? ` ${extra}` : ''}`,
      );
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ level, json, write, fields: { ...base, ...fields } }),
  };
}

/**
 * The default of the long-running loops (consumers, workers, the ticker) when the caller passes
 * no logger: warnings and errors to stderr, so a loop that retries forever (a missing queue, a
 * database down) is never silent. LOG_LEVEL lowers or raises it.
 */
export function defaultLogger(): Logger {
  return createLogger({ level: commandLogLevel({}, 'warn') });
}

/** A logger that drops everything (for callers that report through their own channel). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

function jsonSafe(_key: string, value: unknown) {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}
