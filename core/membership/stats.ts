// What a membership node counts, for /metrics and the simulator.

/** Counters for /metrics and the simulator; each names what it counts. */
export interface SwimStats {
  received: number;
  unknownType: number;
  badVersion: number;
  /** Piggybacked entries that were not alive/suspect/dead rumors of our version. */
  badRumors: number;
  misdirectedPings: number;
  lateAcks: number;
  probes: number;
  probesSkipped: number;
  pingReqsRefused: number;
  addressConflicts: number;
  membersRefused: number;
  oversizedStates: number;
  refutes: number;
  suspicionsStarted: number;
  pushPulls: number;
  strangerSyncs: number;
  reconnects: number;
}

export const newStats = (): SwimStats => ({
  received: 0,
  unknownType: 0,
  badVersion: 0,
  badRumors: 0,
  misdirectedPings: 0,
  lateAcks: 0,
  probes: 0,
  probesSkipped: 0,
  pingReqsRefused: 0,
  addressConflicts: 0,
  membersRefused: 0,
  oversizedStates: 0,
  refutes: 0,
  suspicionsStarted: 0,
  pushPulls: 0,
  strangerSyncs: 0,
  reconnects: 0,
});
