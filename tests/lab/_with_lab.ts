// A lab for one test's body, destroyed after (and checked gone); or, where the lab cannot
// run (not root, a tool missing), one printed line saying why and nothing else.

import assert from "node:assert/strict";
import { Lab } from "./_netns.ts";

/** A lab of n hosts for the body, destroyed after; or a printed reason why not. */
export async function withLab(
  test: string,
  opts: { hosts: number; needs?: string[]; subnet?: string },
  body: (lab: Lab) => Promise<void>,
): Promise<void> {
  const can = await Lab.available(opts.needs);
  if (!can.ok) {
    console.log(`lab: skipped: ${test}: ${can.why}`);
    return;
  }
  const lab = await Lab.create({ hosts: opts.hosts, subnet: opts.subnet });
  try {
    await body(lab);
  } finally {
    await lab.destroy();
  }
  // destroy() leaves nothing behind
  const ns = new TextDecoder().decode(
    (await new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped" }).output()).stdout,
  );
  assert.ok(!ns.includes(lab.id), `namespaces of ${lab.id} left after destroy:\n${ns}`);
}
