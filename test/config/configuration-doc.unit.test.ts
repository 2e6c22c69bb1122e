// docs/configuration.md is written from the settings specs; this keeps it current.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { configurationReference } from '../../scripts/config-reference.ts';

it('docs/configuration.md is current with the settings specs (else: npm run build:docs)', () => {
  const doc = readFileSync(path.resolve(import.meta.dirname, '../../docs/configuration.md'), 'utf8');
  expect(doc).toBe(configurationReference());
});
