#!/usr/bin/env node
// The `skytools` entry for callers that name the .ts file (`node bin/skytools.ts …`): the same as
// bin/skytools.js, which is the faster start (a .ts entry makes Node start its type stripper).
import './skytools.js';
