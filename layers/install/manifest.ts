// Reads an install manifest the way psql runs it: plain SQL is sent as is, `\ir file` includes
// another file relative to the current one. The TypeScript installer and `psql -f` therefore run
// exactly the same statements in the same order.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InstallError } from '../errors/domains.ts';

export const SQL_ROOT = fileURLToPath(new URL('../../sql/', import.meta.url));

export interface SqlChunk {
  /** The file this text came from, relative to sql/, for error messages. */
  file: string;
  /** 1-based line where the chunk starts in that file. */
  line: number;
  text: string;
}

export function loadManifest(file: string, root = SQL_ROOT): SqlChunk[] {
  const chunks: SqlChunk[] = [];
  expand(path.resolve(root, file), root, chunks, new Set());
  return chunks;
}

function expand(abs: string, root: string, out: SqlChunk[], seen: Set<string>): void {
  if (seen.has(abs)) throw new InstallError('manifest', `install manifest includes ${abs} twice (cycle)`);
  seen.add(abs);
  const rel = path.relative(root, abs);
  const lines = readFileSync(abs, 'utf8').split('\n');
  let buf: string[] = [];
  let start = 1;
  const flush = (nextLine: number) => {
    const text = buf.join('\n');
    if (text.trim() !== '') out.push({ file: rel, line: start, text });
    buf = [];
    start = nextLine;
  };
  lines.forEach((raw, i) => {
    const meta = /^\\(\w+)\s*(.*)$/.exec(raw.trim());
    if (!meta) {
      buf.push(raw);
      return;
    }
    flush(i + 2);
    const [, cmd, arg] = meta;
    if (cmd === 'ir' || cmd === 'include_relative') {
      expand(path.resolve(path.dirname(abs), arg!.trim()), root, out, seen);
    } else if (cmd !== 'set' && cmd !== 'echo' && cmd !== 'unset') {
      throw new InstallError(
        'manifest',
        `${rel}:${i + 1}: psql meta-command \\${cmd} is not supported by the installer`,
      );
    }
  });
  flush(lines.length + 1);
  seen.delete(abs);
}
