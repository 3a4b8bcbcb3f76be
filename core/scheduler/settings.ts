// The `scheduler.*` settings as policies read them (`ctx.settings.weightFit`), and the
// policy `scheduler.policy` names.

import { type HerdConfig, SETTINGS } from "../config.ts";
import { ConfigError } from "../errors.ts";
import type { SchedulingPolicy } from "../../plugins/sdk.ts";
import type { PluginSet } from "../../plugins/loader.ts";

const PREFIX = "scheduler.";

/** A policy name is a built-in's (or a loaded plugin's); a path names a module. */
export const isPolicyPath = (name: string) => /[/\\]|\.(m?[jt]s)$/.test(name);

/** The `scheduler.*` settings, without the prefix, as policies read them. */
export function schedulerSettings(c: HerdConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) {
    if (k.startsWith(PREFIX)) out[k.slice(PREFIX.length)] = v;
  }
  return out;
}

/** The `scheduler.*` defaults, without the prefix: for tests, benchmarks and `--dry-run`. */
export function defaultSchedulerSettings(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(SETTINGS)) {
    if (k.startsWith(PREFIX)) out[k.slice(PREFIX.length)] = s.default;
  }
  return out;
}

/** The policy `scheduler.policy` names; an unknown name is a configuration error. */
export function enabledPolicy(plugins: PluginSet, c: HerdConfig): SchedulingPolicy {
  const name = c["scheduler.policy"];
  const p = plugins.get("scheduling-policy", name);
  if (!p) {
    throw new ConfigError(
      `'scheduler.policy': no scheduling policy '${name}' (have: ${
        plugins.names("scheduling-policy").join(", ")
      })`,
    );
  }
  return p;
}
