// Every source full of junk: the profile is still a profile, and nothing throws.

import assert from "node:assert/strict";
import { classify } from "../../../core/profile/classify.ts";
import { liveLoad } from "../../../core/profile/live.ts";
import { RecordedProbe, RecordingProbe } from "../../../core/profile/probe.ts";
import { collectProfile } from "../../../core/profile/profile.ts";
import type { CommandOutput, Probe } from "../../../core/profile/types.ts";
import { fixtureProbe, FIXTURES, garbage } from "./_fixtures.ts";

/** Answers every read, listing and command with seeded junk. */
class JunkProbe implements Probe {
  readonly arch = "x86_64";
  #n = 0;
  constructor(readonly seed: number) {}
  hostname() {
    return "junk";
  }
  #next(length: number) {
    return garbage(this.seed * 7919 + this.#n++, length);
  }
  readText(): Promise<string | undefined> {
    return Promise.resolve(this.#next(300));
  }
  list(): Promise<string[] | undefined> {
    return Promise.resolve([this.#next(6), "card0", "thermal_zone0", "BAT0", "sda", "eth0"]);
  }
  run(): Promise<CommandOutput | undefined> {
    return Promise.resolve({ code: this.seed % 3, stdout: this.#next(500) });
  }
  addresses(): Promise<Record<string, string[]>> {
    return Promise.resolve({ eth0: [this.#next(10)] });
  }
}

Deno.test("collectProfile and liveLoad survive junk everywhere", async () => {
  for (let seed = 1; seed <= 25; seed++) {
    const p = await collectProfile(new JunkProbe(seed));
    assert.ok(p.cpu.threads >= 1);
    assert.ok(p.memory.totalBytes >= 0);
    assert.ok(["DataCenter", "Workstation", "Laptop", "Edge"].includes(classify(p).kind));
    await liveLoad(new JunkProbe(seed));
  }
});

Deno.test("every fixture with its files truncated halfway still profiles", async () => {
  for (const name of FIXTURES) {
    const rec = new RecordingProbe(await fixtureProbe(name));
    await collectProfile(rec);
    const record = rec.record();
    for (const [path, text] of Object.entries(record.files)) {
      record.files[path] = text.slice(0, Math.floor(text.length / 2));
    }
    const p = await collectProfile(new RecordedProbe(record));
    assert.ok(p.cpu.threads >= 1, name);
  }
});
