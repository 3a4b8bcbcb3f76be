// Errors of the transport that reach a user: our own side cannot work (the port is
// taken), a node cannot be reached or answers nonsense, or a join was refused. A bad
// peer on a running node is never an exception: it is counted and logged.

import { HerdError } from "../errors.ts";

/** The transport cannot do what was asked: bind its port, reach a node, read its answer. */
export class TransportError extends HerdError {}

/** A join was refused, by the server or by our own check of what it offered. */
export class JoinError extends HerdError {
  constructor(
    /** The refusal constant (`join-bad-mac`, `join-ca-mismatch`, `token-malformed`, ...). */
    readonly reason: string,
    message: string,
    options?: { hint?: string; cause?: unknown },
  ) {
    super(message, options);
  }
}
