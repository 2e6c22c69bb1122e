#!/usr/bin/env node
// npm bin shim: the CLI is TypeScript run by Node's type stripping.
import '../bin/skytools.ts';
