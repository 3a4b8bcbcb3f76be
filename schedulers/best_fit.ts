// best-fit: bin packing. The node the job fills best wins, so large holes stay free for
// large jobs — Nomad's ScoreFitBinPack, with GPUs as a third dimension so a job without
// GPUs keeps off the nodes whose GPUs are idle.

import type { JobRequest, NodeSnapshot, SchedulingPolicy } from "../plugins/sdk.ts";

const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);

/**
 * Fit in [0, 1]: 1 when the job leaves nothing free, 0 when it leaves a GPU node entirely
 * free (1/3 for a node without GPUs: it wastes none). Per dimension (CPU, memory, GPUs),
 * the share left free after placement counts as 10^share: nearly full nodes are told apart
 * more finely than nearly empty ones.
 */
export function fit(job: JobRequest, node: NodeSnapshot): number {
  const want = job.resources, free = node.free, cap = node.capacity;
  const c = cap.cpu > 0 ? clamp01((free.cpu - want.cpu) / cap.cpu) : 0;
  const m = cap.memBytes > 0 ? clamp01((free.memBytes - want.memBytes) / cap.memBytes) : 0;
  const g = cap.gpus > 0 ? clamp01((free.gpus - want.gpus) / cap.gpus) : 0;
  return 1 - (10 ** c + 10 ** m + 10 ** g - 3) / 27;
}

export const plugin = {
  kind: "scheduling-policy",
  name: "best-fit",
  sdk: 1,
  description: "Bin packing: the node the job fills best (GPU nodes kept for GPU jobs).",
  score: fit,
} satisfies SchedulingPolicy;
