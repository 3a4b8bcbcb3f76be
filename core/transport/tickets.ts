// Resumption tickets: after two members have proved their certificates to each other
// with signatures (auth.ts), the server hands the dialer a ticket id and a 32-byte
// secret over the authenticated, encrypted connection. The next time that dialer
// connects, both sides prove they hold the secret with an HMAC over the new connection's
// fresh challenges instead of signing (0.03 ms against ~0.8 ms per side for a signature
// and its check). Certificates, their validity and the revocation list are still checked
// on every connection; a ticket only replaces the two signatures.
//
// Both tables are bounded and entries expire: a member that reconnects after that signs
// again and gets a new ticket.

export const TICKET_ID_BYTES = 16;
export const TICKET_SECRET_BYTES = 32;
/** How long a ticket may be used (ms). */
export const TICKET_LIFETIME_MS = 60 * 60_000;
const MAX_TICKETS = 4_096;

/** A ticket as the dialer holds it, for one server. */
export interface HeldTicket {
  id: Uint8Array;
  key: CryptoKey;
  expiresAt: number;
}

/** A ticket as the server issued it, to one dialer with one certificate. */
export interface IssuedTicket {
  peerId: string;
  certPem: string;
  key: CryptoKey;
  expiresAt: number;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

export const hmacKey = (secret: Uint8Array): Promise<CryptoKey> =>
  crypto.subtle.importKey(
    "raw",
    new Uint8Array(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );

export class TicketStore {
  readonly #held = new Map<string, HeldTicket>();
  readonly #issued = new Map<string, IssuedTicket>();

  constructor(
    private readonly now: () => number,
    private readonly random: (n: number) => Uint8Array,
  ) {}

  /** The ticket this node holds for server `serverId`, if still good. */
  held(serverId: string): HeldTicket | undefined {
    const t = this.#held.get(serverId);
    if (t && t.expiresAt <= this.now()) this.#held.delete(serverId);
    return t && t.expiresAt > this.now() ? t : undefined;
  }

  async keep(serverId: string, id: Uint8Array, secret: Uint8Array): Promise<void> {
    const t = { id, key: await hmacKey(secret), expiresAt: this.now() + TICKET_LIFETIME_MS };
    bounded(this.#held, serverId, t);
  }

  /** The server refused or forgot it: sign next time. */
  drop(serverId: string): void {
    this.#held.delete(serverId);
  }

  /** A ticket id a dialer presents: what it was issued for, if still good. */
  issued(id: Uint8Array): IssuedTicket | undefined {
    const key = hex(id);
    const t = this.#issued.get(key);
    if (t && t.expiresAt <= this.now()) this.#issued.delete(key);
    return t && t.expiresAt > this.now() ? t : undefined;
  }

  /** A new ticket for `peerId` holding `certPem`: the id and secret to send it. */
  async issue(peerId: string, certPem: string): Promise<{ id: Uint8Array; secret: Uint8Array }> {
    const id = this.random(TICKET_ID_BYTES);
    const secret = this.random(TICKET_SECRET_BYTES);
    bounded(this.#issued, hex(id), {
      peerId,
      certPem,
      key: await hmacKey(secret),
      expiresAt: this.now() + TICKET_LIFETIME_MS,
    });
    return { id, secret };
  }
}

function bounded<V>(m: Map<string, V>, key: string, value: V): void {
  m.delete(key);
  if (m.size >= MAX_TICKETS) m.delete(m.keys().next().value!);
  m.set(key, value);
}
