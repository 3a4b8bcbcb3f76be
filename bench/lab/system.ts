// A membership system under test in the lab: what bench/lab/membership_bench.ts needs of Serf
// and of herd to measure both the same way.
//
// One System instance serves one cluster on one Lab; the bench makes a new one per run.
// Hosts are the lab's 1-based host numbers; a member is identified by its address (the lab
// host's ip), not its name, so a system may name its nodes as it likes.
//
//   start(lab, i, join)   start host i's agent. join is h1's ip (null for h1 itself: it forms
//                         the cluster). Resolve once members(lab, i) can be asked; reject, with
//                         the agent's output, if it exits or does not answer within 30 s.
//                         The bench starts h1 first, then every other host at once.
//   members(lab, i)       host i's current view, itself included; cheap (the bench calls it
//                         for every host several times a second).
//   upCount?(i)           optional: members up, itself included, as host i's agent's own log
//                         reports joins, failures and leaves. While a cluster forms the bench
//                         watches this instead of polling members() - polling 50 agents every
//                         50 ms was a large share of the CPU the formation measured - and
//                         checks members() once a host's log says N.
//   failures(i)           every time host i's agent marked a member failed since start, in
//                         order, stamped with performance.now() when the bench learnt it. Take
//                         it from the agent's own report (log line, event stream), not from
//                         polling members(): a false failure can be refuted within a poll
//                         interval.
//   pid(i)                the agent's process id (resident memory is read from /proc).
//   kill(i)               SIGKILL host i's agent; resolve once it has exited.
//   rttsMs?(lab)          optional: the system's own round-trip estimates in ms, one per pair
//                         of live members (Serf: from its Vivaldi coordinates).
//   stopAll()             stop every agent this instance started, and wait for them.
//
// Traffic is read from the lab's links, so a system must keep the bench's queries off eth0:
// listen for them on 127.0.0.1 or a unix socket inside the namespace.

import type { Lab } from "../../tests/lab/_netns.ts";

export type MemberStatus = "alive" | "suspect" | "failed" | "leaving" | "left";

export interface Member {
  name: string;
  /** The member's lab address, e.g. "10.99.0.7". */
  addr: string;
  status: MemberStatus;
}

export interface FailureMark {
  /** The member marked failed. */
  addr: string;
  /** performance.now() when the bench received the report. */
  at: number;
}

export interface System {
  readonly name: string;
  /** Work before the clock starts (copying binaries onto the hosts). */
  prepare?(lab: Lab, n: number): Promise<void>;
  start(lab: Lab, i: number, join: string | null): Promise<void>;
  members(lab: Lab, i: number): Promise<Member[]>;
  upCount?(i: number): number;
  failures(i: number): readonly FailureMark[];
  pid(i: number): number;
  kill(i: number): Promise<void>;
  rttsMs?(lab: Lab): Promise<number[]>;
  stopAll(): Promise<void>;
}
