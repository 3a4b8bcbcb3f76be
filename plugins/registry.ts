// The built-in plugins. The one place the core names a built-in by path: static
// imports, so `deno compile` bundles them all.

import type { Plugin } from "./sdk.ts";
import { plugin as exec } from "./executors/exec.ts";
import { plugin as deno } from "./executors/deno.ts";
import { plugin as staticPeers } from "./discovery/static.ts";
import { plugin as peerExchange } from "./discovery/peer_exchange.ts";
import { plugin as mdns } from "./discovery/mdns.ts";
import { plugin as broadcast } from "./discovery/broadcast.ts";
import { plugin as subnet } from "./discovery/subnet.ts";
import { plugin as registry } from "./discovery/registry.ts";
import { plugin as bestFit } from "../schedulers/best_fit.ts";
import { plugin as firstFit } from "../schedulers/first_fit.ts";
import { plugin as roundRobin } from "../schedulers/round_robin.ts";
import { plugin as powerAware } from "../schedulers/power_aware.ts";
import { plugin as localityAware } from "../schedulers/locality_aware.ts";
import { plugin as costOptimized } from "../schedulers/cost_optimized.ts";
import { plugin as balanced } from "../schedulers/balanced.ts";

export const BUILTIN_PLUGINS: readonly Plugin[] = [
  exec,
  deno,
  staticPeers,
  peerExchange,
  mdns,
  broadcast,
  subnet,
  registry,
  bestFit,
  firstFit,
  roundRobin,
  powerAware,
  localityAware,
  costOptimized,
  balanced,
];
