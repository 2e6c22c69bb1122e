// `skytools qadmin`: PgQ administration like the original qadmin. Statements come as words
// (`skytools qadmin show queue q1`), with -c (`skytools qadmin -c "create queue a; show queue"`)
// or on stdin; output is an aligned table or, with --json, JSON.
import type { Command } from 'commander';
import { connectClient } from '../../layers/db/connection.ts';
import { parseConnstr } from '../../layers/db/connstr.ts';
import { PgqError } from '../../layers/pgq/errors.ts';
import {
  formatTable,
  parseStatements,
  runStatements,
  type StatementResult,
  toJson,
} from '../../layers/pgq/qadmin.ts';

interface Flags {
  db?: string;
  command?: string;
  json?: boolean;
  queue?: string;
}

const GRAMMAR = `
Statements (separate several with ";"; they run in one transaction):
  create queue Q
  drop queue Q
  show queue [Q | *]
  show consumer [C on Q | on Q | Q C | NAME]     NAME matches a queue or a consumer
  show batch ID | show batch Q C                 C's open batch on Q
  register consumer C on Q [at TICK]
  unregister consumer C|* from Q
  alter queue Q|* set param = value [, param = value ...]
  install [pgq | pgq_node | pgq_coop | pgq_ext | all]   pgq_ext alone: for a consumer's target db

Examples:
  skytools qadmin create queue orders
  skytools qadmin -c "register consumer mailer on orders; show consumer on orders"
  skytools qadmin alter queue orders set ticker_max_lag = '5 seconds', ticker_max_count = 1000
  skytools qadmin show queue --json
`;

/**
 * Joins argv words into one statement. The shell has already removed the user's quotes, so a
 * word with spaces was one quoted name or value: quote it again — as a "quoted identifier", which
 * the parser takes both as a name and as a value — keeping a trailing , or ; outside the quotes
 * (`set ticker_max_lag = '0.1 s', ticker_max_count = 1000` arrives as the word `0.1 s,`).
 */
export function joinWords(words: string[]): string {
  return words
    .map((w) => {
      if (!/\s/.test(w) || /^(['"]).*\1[,;]?$/s.test(w)) return w;
      const [, body, tail] = /^(.*?)([,;]?)$/s.exec(w)!;
      return `"${body!.replaceAll('"', '""')}"${tail}`;
    })
    .join(' ');
}

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of process.stdin) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

function render(results: StatementResult[], json: boolean): string {
  if (json) {
    const one = (r: StatementResult) =>
      r.rows ? toJson(r.rows) : { statement: r.statement, message: r.message ?? null };
    return `${JSON.stringify(results.length === 1 ? one(results[0]!) : results.map(one), null, 2)}\n`;
  }
  // Messages one per line; a table is set off from its neighbours by blank lines.
  return results
    .map((r, i) =>
      r.rows && r.columns
        ? `${i > 0 ? '\n' : ''}${formatTable(r.columns, r.rows)}${i < results.length - 1 ? '\n' : ''}`
        : `${r.message ?? r.statement}\n`,
    )
    .join('');
}

export function register(program: Command): void {
  program
    .command('qadmin')
    .description('PgQ administration: create, drop, show and alter queues, (un)register consumers, install')
    .argument('[statement...]', 'a qadmin statement as words, e.g. show queue q1')
    .option('-c, --command <statements>', 'statements to run, separated by ";" (like the original -c)')
    .option('--db <url>', 'postgres:// URL or libpq string (default: $DATABASE_URL or PG* variables)')
    .option('--queue <name>', 'queue for statements that leave out "on Q" / "from Q"')
    .option('--json', 'print results as JSON')
    .addHelpText('after', GRAMMAR)
    .action(async (words: string[], flags: Flags) => {
      let text: string;
      if (flags.command != null && words.length > 0) {
        throw new PgqError('invalid_statement', 'give statements either with -c or as words, not both');
      } else if (flags.command != null) {
        text = flags.command;
      } else if (words.length > 0) {
        text = joinWords(words);
      } else if (!process.stdin.isTTY) {
        text = await readStdin();
      } else {
        throw new PgqError(
          'invalid_statement',
          'no statement given (try: skytools qadmin show queue, or --help)',
        );
      }
      // Parse everything before connecting: a typo changes nothing.
      const statements = parseStatements(text, { queue: flags.queue });
      if (statements.length === 0) throw new PgqError('invalid_statement', 'no statement given');
      const client = await connectClient({
        applicationName: 'skytools qadmin',
        ...(flags.db ? { config: parseConnstr(flags.db) } : {}),
      });
      try {
        process.stdout.write(render(await runStatements(client, statements), !!flags.json));
      } finally {
        await client.end();
      }
    });
}
