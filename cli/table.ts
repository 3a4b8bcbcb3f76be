// Tables for listing commands. Its own module because cli-table3 (CommonJS) costs
// ~9 MB of RSS: only the short-lived commands that print tables load it, never `herd up`.

import Table from "cli-table3";

/** A borderless, left-aligned table, like `docker ps`. */
export function table(head: string[], rows: string[][]): string {
  const t = new Table({
    head,
    chars: {
      top: "",
      "top-mid": "",
      "top-left": "",
      "top-right": "",
      bottom: "",
      "bottom-mid": "",
      "bottom-left": "",
      "bottom-right": "",
      left: "",
      "left-mid": "",
      mid: "",
      "mid-mid": "",
      right: "",
      "right-mid": "",
      middle: "   ",
    },
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
  });
  t.push(...rows);
  return t.toString().split("\n").map((l: string) => l.trimEnd()).join("\n");
}
