// Entry of restore's worker threads (piece-worker.ts starts them on this file). Plain JavaScript
// on purpose, as bin/skytools.js: a worker started on a .ts file makes Node start its type
// stripper in that thread, and a worker does not inherit the main thread's compile cache. Here
// the cache is enabled first (the directory the main thread uses, passed in workerData), so
// piece-worker.ts and its imports come stripped and compiled from disk. Measured starting two
// workers (until each answers a message): 0.53–0.58 s of CPU on piece-worker.ts, 0.22–0.23 s
// through this file (an empty worker: 0.14 s).
import { enableCompileCache } from 'node:module';
import { workerData } from 'node:worker_threads';

if (typeof workerData?.cacheDir === 'string') enableCompileCache(workerData.cacheDir);
await import('./piece-worker.ts');
