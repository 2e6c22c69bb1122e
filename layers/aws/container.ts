// The per-container cache of the handlers: what a Lambda container (or a Fargate task) builds
// once and reuses across invocations — settings read and validated, database sources, AWS
// clients, Powertools instances. Created on first use, so importing a handler module has no side
// effects.
import { createObservability, type Observability } from './observability.ts';

const cache = new Map<string, unknown>();

/** The value cached under `key`, made by `make` on first use in this container. */
export function once<T>(key: string, make: () => T): T {
  if (!cache.has(key)) cache.set(key, make());
  return cache.get(key) as T;
}

/** One Powertools logger + metrics per service name and container. */
export function observability(service: string): Observability {
  return once(`obs:${service}`, () => createObservability(service));
}
