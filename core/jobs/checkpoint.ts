// A job's checkpoint directory: where each attempt finds what the last one left
// (`HERD_CHECKPOINT_DIR`), and what `herd migrate` carries to the next attempt's node. As
// Nomad's migrated ephemeral disk, a relative directory lives under the node's own data
// dir, so unlike machines need no common path; an absolute one is that path on every node.
// Packed with the system's `tar` (gzip), present on every Linux herd runs on.

import { join } from "node:path";
import { HerdError } from "../errors.ts";

/** Where job `jobId`'s checkpoint directory `dir` is on this node. */
export function checkpointPath(root: string, jobId: string, dir: string): string {
  return dir.startsWith("/") ? dir : join(root, jobId, dir);
}

/** A checkpoint could not be packed or unpacked (no tar, no space, no permission). */
export class CheckpointError extends HerdError {}

async function tar(args: string[], what: string): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("tar", { args, stdin: "null", stdout: "null", stderr: "piped" })
      .output();
  } catch (e) {
    throw new CheckpointError(`${what}: cannot run tar: ${(e as Error).message}`);
  }
  if (!out.success) {
    throw new CheckpointError(
      `${what}: tar failed: ${new TextDecoder().decode(out.stderr).trim().slice(0, 300)}`,
    );
  }
}

/** The directory's contents as a gzipped tar in a new temporary file (empty if none). */
export async function packCheckpoint(dir: string): Promise<string> {
  const file = await Deno.makeTempFile({ prefix: "herd-checkpoint-", suffix: ".tar.gz" });
  await Deno.mkdir(dir, { recursive: true });
  await tar(["-C", dir, "-czf", file, "."], `packing ${dir}`);
  return file;
}

/** Replaces the directory's contents with the archive's. */
export async function unpackCheckpoint(file: string, dir: string): Promise<void> {
  await Deno.remove(dir, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  await Deno.mkdir(dir, { recursive: true });
  await tar(["-C", dir, "-xzf", file], `unpacking into ${dir}`);
}
