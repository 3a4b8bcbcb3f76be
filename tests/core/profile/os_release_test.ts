import assert from "node:assert/strict";
import { parseOsRelease, readOs } from "../../../core/profile/os_release.ts";
import { garbage, inlineProbe } from "./_fixtures.ts";

Deno.test("os-release: PRETTY_NAME, else NAME VERSION", () => {
  assert.equal(
    parseOsRelease('NAME="Ubuntu"\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n'),
    "Ubuntu 22.04.4 LTS",
  );
  assert.equal(parseOsRelease("NAME=Alpine\nVERSION=3.20\n"), "Alpine 3.20");
  assert.equal(parseOsRelease("PRETTY_NAME='Arch Linux'\n"), "Arch Linux");
  assert.equal(parseOsRelease(""), undefined);
  assert.equal(typeof (parseOsRelease(garbage(12, 300)) ?? ""), "string");
});

Deno.test("readOs: /etc first, /usr/lib as fallback, kernel trimmed", async () => {
  const both = inlineProbe({
    files: {
      "/etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
      "/usr/lib/os-release": 'PRETTY_NAME="Other"\n',
      "/proc/sys/kernel/osrelease": "6.1.0-18-amd64\n",
    },
  });
  assert.deepEqual(await readOs(both), {
    os: "Debian GNU/Linux 12 (bookworm)",
    kernel: "6.1.0-18-amd64",
  });
  const usr = inlineProbe({ files: { "/usr/lib/os-release": 'PRETTY_NAME="Fedora Linux 40"\n' } });
  assert.deepEqual(await readOs(usr), { os: "Fedora Linux 40" });
  assert.deepEqual(await readOs(inlineProbe({})), { os: "Linux" });
});
