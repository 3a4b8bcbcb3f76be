// Calls between members over the mesh: a request (an `App` message with a request id)
// and its reply, or a one-way notice. Services (the job service) name their operations
// and validate their own bodies; this file only matches replies to calls, applies the
// deadline, and fails a call at once when its member is gone. A call to this node runs
// its handler directly, so a service treats every member alike.

import type { App } from "../membership/messages.ts";
import { MessageType, PROTOCOL_VERSION } from "../membership/messages.ts";
import type { Cancel, Scheduler } from "../membership/scheduler.ts";
import { HerdError } from "../errors.ts";

/** The reply's operation name. */
const REPLY = "re";

/** Why a call failed. `remote` carries the handler's own code in `remoteCode`. */
export type RpcFailure = "unreachable" | "timeout" | "gone" | "remote" | "closed";

export class RpcError extends HerdError {
  constructor(
    readonly failure: RpcFailure,
    message: string,
    /** The service's code when the handler refused (`failure === "remote"`). */
    readonly remoteCode?: string,
  ) {
    super(message);
  }
}

/** Thrown by a handler to refuse with a code the caller can act on. */
export class ServiceRefusal extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** A handler's answer is sent back as the reply; a ServiceRefusal becomes a refusal. */
export type Handler = (from: string, body: unknown) => unknown;

type Reply = { ok: true; value: unknown } | { ok: false; code: string; message: string };

interface Pending {
  nodeId: string;
  resolve(value: unknown): void;
  reject(e: RpcError): void;
  cancel: Cancel;
}

export interface RpcOptions {
  selfId: string;
  /** Sends to a live member; false when it is not one. */
  send(nodeId: string, msg: App): boolean;
  scheduler: Scheduler;
  log(line: string): void;
}

export class Rpc {
  readonly #o: RpcOptions;
  readonly #handlers = new Map<string, Handler>();
  readonly #pending = new Map<number, Pending>();
  #nextRid = 1;
  #closed = false;
  /** Messages refused: an unknown operation, or a reply nobody waits for. */
  dropped = 0;

  constructor(o: RpcOptions) {
    this.#o = o;
  }

  handle(svc: string, op: string, handler: Handler): void {
    this.#handlers.set(`${svc}/${op}`, handler);
  }

  /** Calls `op` on `nodeId`; rejects with RpcError when it fails, refuses or is too slow. */
  call(
    nodeId: string,
    svc: string,
    op: string,
    body: unknown,
    timeoutMs: number,
  ): Promise<unknown> {
    if (this.#closed) return Promise.reject(new RpcError("closed", "this node is stopping"));
    if (nodeId === this.#o.selfId) return this.#local(svc, op, body);
    const rid = this.#nextRid++;
    return new Promise<unknown>((resolve, reject) => {
      const cancel = this.#o.scheduler.after(timeoutMs, () => {
        this.#pending.delete(rid);
        reject(new RpcError("timeout", `${nodeId} did not answer ${svc}/${op} in ${timeoutMs} ms`));
      });
      this.#pending.set(rid, { nodeId, resolve, reject, cancel });
      const sent = this.#o.send(nodeId, {
        type: MessageType.App,
        v: PROTOCOL_VERSION,
        svc,
        op,
        rid,
        body,
      });
      if (!sent) {
        cancel();
        this.#pending.delete(rid);
        reject(new RpcError("unreachable", `${nodeId} is not a live member`));
      }
    });
  }

  /** A one-way message; false when the member is not live. To this node: run at once. */
  notify(nodeId: string, svc: string, op: string, body: unknown, bulk = false): boolean {
    if (this.#closed) return false;
    if (nodeId === this.#o.selfId) {
      queueMicrotask(() => this.#dispatch(nodeId, svc, op, body));
      return true;
    }
    return this.#o.send(nodeId, {
      type: MessageType.App,
      v: PROTOCOL_VERSION,
      svc,
      op,
      body,
      ...(bulk ? { bulk: true as const } : {}),
    });
  }

  /** Every service message from the mesh comes here. */
  receive(from: string, msg: App): void {
    if (msg.op === REPLY) {
      const p = msg.rid === undefined ? undefined : this.#pending.get(msg.rid);
      // Only the member called may answer: a reply from anyone else is dropped.
      if (!p || p.nodeId !== from || !isReply(msg.body)) {
        this.dropped++;
        return;
      }
      this.#pending.delete(msg.rid!);
      p.cancel();
      const r = msg.body;
      if (r.ok) p.resolve(r.value);
      else p.reject(new RpcError("remote", r.message, r.code));
      return;
    }
    if (msg.rid === undefined) {
      this.#dispatch(from, msg.svc, msg.op, msg.body);
      return;
    }
    const rid = msg.rid;
    const answer = (reply: Reply) =>
      this.#o.send(from, {
        type: MessageType.App,
        v: PROTOCOL_VERSION,
        svc: msg.svc,
        op: REPLY,
        rid,
        body: reply,
      });
    this.#run(from, msg.svc, msg.op, msg.body).then(answer);
  }

  /** Fails the calls waiting on a member that failed or left. */
  memberGone(nodeId: string): void {
    for (const [rid, p] of this.#pending) {
      if (p.nodeId !== nodeId) continue;
      this.#pending.delete(rid);
      p.cancel();
      p.reject(new RpcError("gone", `${nodeId} failed or left before answering`));
    }
  }

  close(): void {
    this.#closed = true;
    for (const [rid, p] of this.#pending) {
      this.#pending.delete(rid);
      p.cancel();
      p.reject(new RpcError("closed", "this node is stopping"));
    }
  }

  async #local(svc: string, op: string, body: unknown): Promise<unknown> {
    const r = await this.#run(this.#o.selfId, svc, op, body);
    if (r.ok) return r.value;
    throw new RpcError("remote", r.message, r.code);
  }

  async #run(from: string, svc: string, op: string, body: unknown): Promise<Reply> {
    const h = this.#handlers.get(`${svc}/${op}`);
    if (!h) {
      this.dropped++;
      return { ok: false, code: "unknown-op", message: `this node has no ${svc}/${op}` };
    }
    try {
      return { ok: true, value: (await h(from, body)) ?? null };
    } catch (e) {
      if (e instanceof ServiceRefusal) return { ok: false, code: e.code, message: e.message };
      this.#o.log(`herd: ${svc}/${op} from ${from} failed: ${(e as Error).stack ?? e}`);
      return {
        ok: false,
        code: "internal",
        message: `${svc}/${op} failed: ${(e as Error).message}`,
      };
    }
  }

  #dispatch(from: string, svc: string, op: string, body: unknown): void {
    this.#run(from, svc, op, body).then((r) => {
      if (!r.ok && r.code !== "internal" && r.code !== "unknown-op") {
        this.#o.log(`herd: ${svc}/${op} from ${from} refused: ${r.message}`);
      }
    });
  }
}

function isReply(x: unknown): x is Reply {
  if (typeof x !== "object" || x === null) return false;
  const r = x as Record<string, unknown>;
  return r.ok === true ||
    (r.ok === false && typeof r.code === "string" && typeof r.message === "string");
}
