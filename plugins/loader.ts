// Loads plugins: the built-ins, and third-party modules named in config. A module
// must export `plugin` that satisfies its kind's contract in sdk.ts; anything else
// is refused with a message that says what is wrong.

import { type Plugin, type PluginKind, SDK_VERSION } from "./sdk.ts";
import { BUILTIN_PLUGINS } from "./registry.ts";

export class PluginError extends Error {
  constructor(readonly source: string, message: string, options?: { cause?: unknown }) {
    super(`plugin ${source}: ${message}`, options);
    this.name = "PluginError";
  }
}

/** Methods each kind must implement. */
const REQUIRED: Record<PluginKind, readonly string[]> = {
  "executor": ["validate", "run"],
  "scheduling-policy": ["score"],
  "discovery": ["start", "stop"],
  "topology": ["plan"],
};

/** Checks a value against the contract of its kind. */
export function checkPlugin(value: unknown, source: string): Plugin {
  if (!value || typeof value !== "object") {
    throw new PluginError(source, "does not export `plugin`");
  }
  const p = value as Record<string, unknown>;
  const kind = p.kind as PluginKind;
  if (!Object.hasOwn(REQUIRED, kind)) {
    throw new PluginError(
      source,
      `unknown kind ${JSON.stringify(p.kind)} (one of ${Object.keys(REQUIRED).join(", ")})`,
    );
  }
  if (typeof p.name !== "string" || !/^[a-z][a-z0-9-]{0,62}$/.test(p.name)) {
    throw new PluginError(source, "name must be lower-case letters, digits and dashes");
  }
  if (p.sdk !== SDK_VERSION) {
    throw new PluginError(source, `written for SDK ${p.sdk}; this herd speaks SDK ${SDK_VERSION}`);
  }
  for (const m of REQUIRED[kind]) {
    if (typeof p[m] !== "function") throw new PluginError(source, `a ${kind} must have ${m}()`);
  }
  return value as Plugin;
}

/** Imports a plugin module from a path or URL. */
export async function importPlugin(
  specifier: string,
  base = `file://${Deno.cwd()}/`,
): Promise<Plugin> {
  const url = new URL(specifier, base).href;
  let mod: Record<string, unknown>;
  try {
    mod = await import(url);
  } catch (e) {
    throw new PluginError(specifier, `cannot be imported: ${(e as Error).message}`, { cause: e });
  }
  return checkPlugin(mod.plugin, specifier);
}

/** The plugins a node has, by kind and name. */
export class PluginSet {
  readonly #byKind = new Map<PluginKind, Map<string, Plugin>>();

  constructor(plugins: Iterable<Plugin> = BUILTIN_PLUGINS) {
    for (const p of plugins) this.add(p, "built-in");
  }

  add(p: Plugin, source: string): void {
    let m = this.#byKind.get(p.kind);
    if (!m) this.#byKind.set(p.kind, m = new Map());
    if (m.has(p.name)) {
      throw new PluginError(source, `a ${p.kind} named '${p.name}' is already loaded`);
    }
    m.set(p.name, p);
  }

  get<K extends PluginKind>(kind: K, name: string): Extract<Plugin, { kind: K }> | undefined {
    return this.#byKind.get(kind)?.get(name) as Extract<Plugin, { kind: K }> | undefined;
  }

  names(kind: PluginKind): string[] {
    return [...(this.#byKind.get(kind)?.keys() ?? [])].sort();
  }
}
