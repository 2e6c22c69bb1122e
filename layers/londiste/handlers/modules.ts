// handler_modules: a user's own handlers, loaded at worker and admin start, as the original's
// load_handler_modules. Each entry is an ES module — a path (relative to the config file's
// directory) or a package name — that either calls registerHandler() when imported or exports
// its specs as `handlers` (an array, like the original's __londiste_handlers__) or `default`
// (one spec or an array). The original's own module names (`londiste.handlers.bulk`, …) name
// handlers that are built in here and are accepted as such. Then every handler gets the job's
// [londiste] keys (its loadConf).
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '../../util/log.ts';
import { LondisteError } from '../errors.ts';
import type { HandlerConf, HandlerSpec } from '../handler.ts';
import { configureHandlers, registerHandler } from './index.ts';

export interface HandlerModuleOptions {
  modules: readonly string[];
  /** The [londiste] section's raw values (what loadConf reads). */
  values: Readonly<Record<string, unknown>>;
  /** The config file (relative module paths and files are relative to its directory). */
  configFile: string;
  log?: Logger;
}

function isSpec(x: unknown): x is HandlerSpec {
  const s = x as HandlerSpec | null;
  return !!s && typeof s === 'object' && typeof s.name === 'string' && typeof s.create === 'function';
}

export async function loadHandlerModules(o: HandlerModuleOptions): Promise<void> {
  const dir = path.dirname(path.resolve(o.configFile));
  for (const m of o.modules) {
    if (/^londiste\.handlers\.\w+$/.test(m)) {
      o.log?.debug('handler module of the original: built in here', { module: m });
      continue;
    }
    const url = m.startsWith('.') || path.isAbsolute(m) ? pathToFileURL(path.resolve(dir, m)).href : m;
    let mod: Record<string, unknown>;
    try {
      mod = (await import(url)) as Record<string, unknown>;
    } catch (err) {
      throw new LondisteError('usage', `handler_modules: cannot load ${m}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const exported = [mod.handlers, mod.default].flatMap((x) => (Array.isArray(x) ? x : x ? [x] : []));
    for (const spec of exported.filter(isSpec)) registerHandler(spec);
    o.log?.info('handler module loaded', { module: m, handlers: exported.filter(isSpec).map((s) => s.name) });
  }
  const conf: HandlerConf = {
    get: (key) => {
      const v = o.values[key];
      return v == null ? undefined : Array.isArray(v) ? v.join(',') : String(v);
    },
    configDir: dir,
  };
  configureHandlers(conf);
}
