// `herd migrate JOB [--to NODE]`: move a running job to another member.

import type { JobRecord } from "../core/jobs/job.ts";
import { UsageError } from "../core/errors.ts";
import { Client, dataDir, parse } from "./common.ts";

export const MIGRATE_HELP = `Usage: herd migrate JOB [--to NODE] [--json]

Moves a running job: stops it on its node (SIGTERM, SIGKILL after jobs.killGrace),
copies its output so far and its checkpoint dir to the target, and starts its next
attempt there. The job's \`herd logs\` keep the earlier output; the attempt reads what
the last one left in $HERD_CHECKPOINT_DIR.

  --to NODE   the member to move to (id, id prefix or name); by default the best
              other member under the job's policy and constraints
  --json      print the job's new record as JSON

Refused, with the job left running, when the target cannot take it.
`;

export async function migrate(args: string[]): Promise<number> {
  const { values, positionals } = parse("migrate", args, {
    to: { type: "string" },
    json: { type: "boolean" },
  }, 1);
  if (values.help) return (console.log(MIGRATE_HELP), 0);
  if (positionals.length === 0) throw new UsageError("migrate: which job? herd migrate JOB");
  const client = await Client.connect(dataDir(values["data-dir"]).path);
  const job = await client.json<JobRecord & { nodeName?: string }>(
    "POST",
    `/v1/jobs/${encodeURIComponent(positionals[0])}/migrate`,
    values.to === undefined ? {} : { to: values.to },
  );
  if (values.json) console.log(JSON.stringify(job, null, 2));
  else console.log(`${job.id} running on ${job.nodeName || job.nodeId} (attempt ${job.attempt})`);
  return 0;
}
