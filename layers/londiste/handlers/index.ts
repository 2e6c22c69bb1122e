// The handler registry: name → spec. buildHandler turns a table's stored handler string into its
// handler (as the original's build_handler); listHandlers feeds show-handlers. Every handler of
// the original is registered here; a user's own handlers come through handler_modules
// (modules.ts) and registerHandler.
import { LondisteError } from '../errors.ts';
import { type HandlerConf, type HandlerSpec, parseHandlerString, type TableHandler } from '../handler.ts';
import { applyfnHandlerSpec } from './applyfn.ts';
import { bulkHandlerSpec } from './bulk.ts';
import { dispatchHandlerSpecs } from './dispatch.ts';
import { londisteHandlerSpec } from './londiste.ts';
import { multimasterHandlerSpec } from './multimaster.ts';
import { obfuscateHandlerSpec } from './obfuscate.ts';
import {
  fakeLocalHandlerSpec,
  qsplitterHandlerSpec,
  qtableHandlerSpec,
  vtableHandlerSpec,
} from './qtable.ts';
import { partHandlerSpec, shardHandlerSpec } from './shard.ts';

const BUILT_IN: HandlerSpec[] = [
  londisteHandlerSpec,
  ...dispatchHandlerSpecs,
  bulkHandlerSpec,
  shardHandlerSpec,
  partHandlerSpec,
  qtableHandlerSpec,
  qsplitterHandlerSpec,
  applyfnHandlerSpec,
  vtableHandlerSpec,
  fakeLocalHandlerSpec,
  obfuscateHandlerSpec,
  multimasterHandlerSpec,
];

const registry = new Map<string, HandlerSpec>(BUILT_IN.map((s) => [s.name, s]));

/**
 * Gives every registered handler the job's config (their loadConf), as the original's
 * load_handler_modules does at start; handlers registered later get it when they register.
 */
let lastConf: HandlerConf | null = null;
export function configureHandlers(conf: HandlerConf): void {
  lastConf = conf;
  for (const spec of registry.values()) spec.loadConf?.(conf);
}

/** Adds (or replaces) a handler by its name. */
export function registerHandler(spec: HandlerSpec): void {
  if (!spec.name || spec.name.includes('('))
    throw new LondisteError('usage', `invalid handler name: ${spec.name}`);
  registry.set(spec.name, spec);
  if (lastConf) spec.loadConf?.(lastConf);
}

/** Every registered handler, in registration order (the default first). */
export function listHandlers(): HandlerSpec[] {
  return [...registry.values()];
}

export function getHandlerSpec(name: string): HandlerSpec {
  const spec = registry.get(name);
  if (!spec) {
    throw new LondisteError(
      'not_found',
      `unknown handler ${JSON.stringify(name)} (known: ${[...registry.keys()].join(', ')})`,
    );
  }
  return spec;
}

/**
 * A table's handler from its handler string (table_attrs `handler`; empty or null: the default
 * 'londiste'). Bad arguments are refused here, so add-table can check them before changing anything.
 */
export function buildHandler(
  tableName: string,
  handlerString?: string | null,
  destTable?: string | null,
): TableHandler {
  const { name, args } = parseHandlerString(handlerString);
  return getHandlerSpec(name).create(tableName, args, destTable || tableName);
}

/** show-handlers: `name - summary`, or with names given, each with its arguments. */
export function formatHandlers(names: readonly string[] = []): string {
  if (names.length === 0)
    return listHandlers()
      .map((h) => `${h.name} - ${h.summary}`)
      .join('\n');
  return names
    .map((n) => {
      const h = getHandlerSpec(n);
      const args = h.args.map((a) => `  ${a.usage} - ${a.help}`);
      return [`${h.name} - ${h.summary}`, ...(args.length ? ['', 'Parameters:', ...args] : [])].join('\n');
    })
    .join('\n\n');
}
