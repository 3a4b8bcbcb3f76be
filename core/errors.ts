// Typed errors. Each carries what the user needs to fix the problem; the CLI prints
// `herd: <message>` (and the hint on its own line) and exits with `exitCode`.

export class HerdError extends Error {
  /** Process exit code when this error ends a command. */
  readonly exitCode: number = 1;
  /** A next step for the user, printed after the message. */
  readonly hint?: string;

  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options?.hint;
  }
}

/** Bad command line, flag or value. Exit code 2, as getopt-style tools do. */
export class UsageError extends HerdError {
  override readonly exitCode = 2;
}

/** A configuration file, variable or value is invalid. */
export class ConfigError extends HerdError {
  override readonly exitCode = 2;
}

/** The KV store cannot be used (corrupt, newer schema, locked). Nothing was changed. */
export class StoreError extends HerdError {}

/** No agent is running on the data dir, or it cannot be reached. */
export class NotRunningError extends HerdError {
  override readonly exitCode = 3;
}

/** Another agent already holds the data dir. */
export class AlreadyRunningError extends HerdError {}

/** The agent refused a request (validation, not found, does not fit). */
export class ApiError extends HerdError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: { hint?: string },
  ) {
    super(message, options);
  }
}

/** A recorded probe or profile file cannot be used. */
export class ProfileError extends HerdError {}

/**
 * A scheduling policy could not be used: its module is not a policy (`refused`), it did
 * not answer in time (`timeout`), it used a permission policies do not have
 * (`permission`), or it threw or gave no score (`failed`). `policy` names the module.
 */
export class PolicyError extends HerdError {
  constructor(
    readonly policy: string,
    readonly reason: "refused" | "timeout" | "permission" | "failed",
    message: string,
    options?: { hint?: string; cause?: unknown },
  ) {
    super(`policy ${policy}: ${message}`, options);
  }
}
