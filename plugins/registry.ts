// The built-in plugins. The one place the core names a built-in by path: static
// imports, so `deno compile` bundles them all.

import type { Plugin } from "./sdk.ts";
import { plugin as exec } from "./executors/exec.ts";
import { plugin as deno } from "./executors/deno.ts";

export const BUILTIN_PLUGINS: readonly Plugin[] = [exec, deno];
