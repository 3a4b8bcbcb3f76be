// Hardware profiling costs: classify alone (pure, per fixture), collectProfile over each
// recorded machine (parsing cost without I/O), and collectProfile / liveLoad on this machine
// (what `herd up` and the resident agent's load refresh pay).
//
//   deno bench -A bench/profile_bench.ts

import { classify } from "../core/profile/classify.ts";
import { liveLoad } from "../core/profile/live.ts";
import { LiveProbe, parseProbeRecord, RecordedProbe } from "../core/profile/probe.ts";
import { collectProfile } from "../core/profile/profile.ts";
import type { NodeClass, ProbeRecord } from "../core/profile/types.ts";

const FIXTURE_DIR = new URL("../tests/fixtures/machines/", import.meta.url);

async function loadFixtures(): Promise<[string, ProbeRecord][]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(FIXTURE_DIR)) {
    if (e.isFile && e.name.endsWith(".json")) names.push(e.name.slice(0, -".json".length));
  }
  return Promise.all(
    names.sort().map(async (name): Promise<[string, ProbeRecord]> => {
      const text = await Deno.readTextFile(new URL(`${name}.json`, FIXTURE_DIR));
      return [name, parseProbeRecord(JSON.parse(text))];
    }),
  );
}

const fixtures = await loadFixtures();
// Keeps results reachable so the optimiser cannot drop the work.
let sink: NodeClass | undefined;

for (const [name, record] of fixtures) {
  const profile = await collectProfile(new RecordedProbe(record));
  Deno.bench({
    name: `classify ${name}`,
    group: "classify",
    fn: () => void (sink = classify(profile)),
  });
}

for (const [name, record] of fixtures) {
  Deno.bench({
    name: `collectProfile ${name} (recorded)`,
    group: "collectProfile recorded",
    async fn() {
      sink = classify(await collectProfile(new RecordedProbe(record)));
    },
  });
}

const live = new LiveProbe();
Deno.bench({
  name: "collectProfile(new LiveProbe()) this machine",
  group: "live",
  async fn() {
    sink = classify(await collectProfile(live));
  },
});
Deno.bench({
  name: "liveLoad(new LiveProbe()) this machine",
  group: "live",
  async fn() {
    await liveLoad(live);
  },
});

globalThis.addEventListener("unload", () => {
  if (sink === undefined) console.error("no benchmark ran");
});
