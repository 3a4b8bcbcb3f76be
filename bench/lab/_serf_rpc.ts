// A minimal client of the Serf agent's RPC (msgpack over a stream: a header map, then a body
// map when the command has one; see hashicorp/serf cmd/serf/command/agent/ipc.go). Polling
// 100 agents with `serf members` means 100 Go processes per round (~1 s on 2 cores); one kept
// connection per agent answers in well under a millisecond.
//
// The agent listens on 127.0.0.1 inside its namespace; the lab reaches it through a unix
// socket that socat relays there (unix sockets cross network namespaces, TCP does not).

import { decodeMultiStream, encode } from "@msgpack/msgpack";
import { withDeadline } from "../../tests/lab/_process.ts";

export interface SerfMember {
  Name: string;
  Addr: Uint8Array;
  Port: number;
  Status: string;
  Tags: Record<string, string>;
}

/** A Vivaldi coordinate as Serf keeps it; distances in seconds. */
export interface SerfCoordinate {
  Vec: number[];
  Error: number;
  Adjustment: number;
  Height: number;
}

/** Each call fails after this long (the connection is then closed: its stream is out of step). */
const CALL_MS = 5_000;

export class SerfRpc {
  #seq = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(
    readonly path: string,
    private conn: Deno.UnixConn,
    private writer: WritableStreamDefaultWriter<Uint8Array>,
    private reader: AsyncIterator<unknown>,
  ) {}

  /** Connects and shakes hands; rejects when the agent behind the socket does not answer in time. */
  static async connect(path: string, handshakeMs = CALL_MS): Promise<SerfRpc> {
    const conn = await Deno.connect({ transport: "unix", path });
    const rpc = new SerfRpc(
      path,
      conn,
      conn.writable.getWriter(),
      decodeMultiStream(conn.readable)[Symbol.asyncIterator](),
    );
    try {
      await rpc.#call("handshake", { Version: 1 }, false, handshakeMs);
    } catch (e) {
      rpc.close();
      throw e;
    }
    return rpc;
  }

  async members(): Promise<SerfMember[]> {
    const body = await this.#call("members", undefined, true) as { Members: SerfMember[] };
    return body.Members;
  }

  /** The node's own coordinate as it knows it, or null when it has none yet. */
  async coordinate(node: string): Promise<SerfCoordinate | null> {
    const body = await this.#call("get-coordinate", { Node: node }, true) as {
      Coord: SerfCoordinate;
      Ok: boolean;
    };
    return body.Ok ? body.Coord : null;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.conn.close();
  }

  /** One request at a time: replies come back in order on the one stream. */
  #call(command: string, body: unknown, hasReply: boolean, ms = CALL_MS): Promise<unknown> {
    const run = async () => {
      if (this.#closed) throw new Error(`serf rpc ${this.path}: closed`);
      const seq = this.#seq++;
      const head = encode({ Command: command, Seq: seq });
      await this.writer.write(body === undefined ? head : concat(head, encode(body)));
      const header = await this.#next(command) as { Seq: number; Error: string };
      if (header.Error) throw new Error(`serf rpc ${command}: ${header.Error}`);
      return hasReply ? await this.#next(command) : undefined;
    };
    const p = this.#queue.then(run, run);
    this.#queue = p.catch(() => {}); // the caller gets the error; the queue only orders calls
    return withDeadline(p, ms, `serf rpc ${command} on ${this.path}`).catch((e) => {
      this.close();
      throw e;
    });
  }

  async #next(command: string): Promise<unknown> {
    const r = await this.reader.next();
    if (r.done) {
      throw new Error(`serf rpc ${command} on ${this.path}: connection closed by the agent`);
    }
    return r.value;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Serf's estimate of the round trip between two nodes in seconds (coordinate.DistanceTo). */
export function serfDistance(a: SerfCoordinate, b: SerfCoordinate): number {
  const d = Math.hypot(...a.Vec.map((x, k) => x - b.Vec[k])) + a.Height + b.Height;
  const adjusted = d + a.Adjustment + b.Adjustment;
  return adjusted > 0 ? adjusted : d;
}
