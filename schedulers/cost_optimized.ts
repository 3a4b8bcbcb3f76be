// cost-optimized: the cheapest class of node, by the `scheduler.cost*` settings ($ per node
// per hour); among nodes of equal cost, the best fit (as best-fit scores it).
//
// Self-contained (imports only the SDK's types): it can be loaded as a single module.

import type {
  JobRequest,
  NodeClassKind,
  NodeSnapshot,
  PolicyContext,
  SchedulingPolicy,
} from "../plugins/sdk.ts";

/** `scheduler.cost*` when the settings do not say (core/config.ts's defaults), $/hour. */
const DEFAULT_COST: Readonly<Record<NodeClassKind, number>> = {
  DataCenter: 3.0,
  Workstation: 0.8,
  Laptop: 0.3,
  Edge: 0.05,
};

/** The cost of each class and the smallest difference between two unequal ones. */
interface Prices {
  dc: number;
  ws: number;
  lp: number;
  ed: number;
  /** 1 when all are equal. */
  gap: number;
}

function resolve(s: PolicyContext["settings"]): Prices {
  const setting = (v: unknown, fallback: number) =>
    typeof v === "number" && Number.isFinite(v) ? v : fallback;
  const c = [
    setting(s.costDataCenter, DEFAULT_COST.DataCenter),
    setting(s.costWorkstation, DEFAULT_COST.Workstation),
    setting(s.costLaptop, DEFAULT_COST.Laptop),
    setting(s.costEdge, DEFAULT_COST.Edge),
  ];
  let gap = Infinity;
  for (const x of c) {
    for (const y of c) if (x > y && x - y < gap) gap = x - y;
  }
  return { dc: c[0], ws: c[1], lp: c[2], ed: c[3], gap: gap === Infinity ? 1 : gap };
}

// Every node of a decision comes with the same settings object: remember the last one
// resolved. A memo, not state: the answer depends on the settings' values alone.
let lastSettings: PolicyContext["settings"] | undefined;
let lastPrices: Prices | undefined;
function prices(s: PolicyContext["settings"]): Prices {
  if (s !== lastSettings || lastPrices === undefined) {
    lastPrices = resolve(s);
    lastSettings = s;
  }
  return lastPrices;
}

const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);

/** best-fit's fit, in [0, 1] (schedulers/best_fit.ts explains it). */
function fit(job: JobRequest, node: NodeSnapshot): number {
  const want = job.resources, free = node.free, cap = node.capacity;
  const c = cap.cpu > 0 ? clamp01((free.cpu - want.cpu) / cap.cpu) : 0;
  const m = cap.memBytes > 0 ? clamp01((free.memBytes - want.memBytes) / cap.memBytes) : 0;
  const g = cap.gpus > 0 ? clamp01((free.gpus - want.gpus) / cap.gpus) : 0;
  return 1 - (10 ** c + 10 ** m + 10 ** g - 3) / 27;
}

export const plugin = {
  kind: "scheduling-policy",
  name: "cost-optimized",
  sdk: 1,
  description: "The cheapest node class (scheduler.cost*); equal costs by best fit.",
  score(job, node, ctx) {
    const p = prices(ctx.settings);
    const k = node.class;
    const cost = k === "DataCenter"
      ? p.dc
      : k === "Workstation"
      ? p.ws
      : k === "Laptop"
      ? p.lp
      : p.ed;
    // The fit term stays below half the smallest difference between two costs: it orders
    // nodes of equal cost and never overturns a cheaper class.
    return -cost + fit(job, node) * p.gap * 0.49;
  },
} satisfies SchedulingPolicy;
