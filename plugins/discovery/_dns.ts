// DNS messages (RFC 1035) as mDNS uses them (RFC 6762), in the shapes of npm:dns-packet,
// which the `mdns` plugin used before: `{ type: "query" | "response", questions, answers,
// authorities, additionals }`, records `{ name, type, class, ttl, flush, data }` with
// PTR data a name, SRV data `{ priority, weight, port, target }`, TXT data a list of byte
// strings, A data a dotted quad; other types keep their RDATA bytes. Encoding writes names
// uncompressed, as dns-packet did; decoding follows compression pointers (backwards only).
// tests/plugins/discovery/dns_test.ts holds dns-packet's own encodings as fixtures.
// (ASCII only: a module with any other character is kept as UTF-16 in V8's heap.)

const TYPES: Record<string, number> = {
  A: 1,
  NS: 2,
  CNAME: 5,
  PTR: 12,
  HINFO: 13,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  NSEC: 47,
  ANY: 255,
};
const TYPE_NAMES = new Map(Object.entries(TYPES).map(([k, v]) => [v, k]));
const CLASSES: Record<string, number> = { IN: 1, CS: 2, CH: 3, HS: 4, ANY: 255 };
const CLASS_NAMES = new Map(Object.entries(CLASSES).map(([k, v]) => [v, k]));

const RESPONSE_FLAG = 0x8000;
/** The top bit of a record's class: mDNS's cache-flush bit. */
const FLUSH_MASK = 0x8000;

export interface DnsQuestion {
  name: string;
  type: string;
  class?: string;
}

export interface DnsRecord {
  name: string;
  type: string;
  class?: string;
  ttl?: number;
  flush?: boolean;
  data?: unknown;
}

export interface DnsPacket {
  /** "response" sets the QR bit; anything else is a query. */
  type?: string;
  id?: number;
  flags?: number;
  questions?: DnsQuestion[];
  answers?: DnsRecord[];
  authorities?: DnsRecord[];
  additionals?: DnsRecord[];
}

const typeName = (n: number) => TYPE_NAMES.get(n) ?? `UNKNOWN_${n}`;
const className = (n: number) => CLASS_NAMES.get(n) ?? `UNKNOWN_${n}`;

function typeCode(name: string): number {
  const known = TYPES[name.toUpperCase()];
  if (known !== undefined) return known;
  const m = /^UNKNOWN_(\d+)$/.exec(name);
  if (m) return Number(m[1]);
  throw new Error(`unsupported record type ${name}`);
}

function classCode(name: string | undefined): number {
  if (name === undefined) return CLASSES.IN;
  const known = CLASSES[name.toUpperCase()];
  if (known !== undefined) return known;
  const m = /^UNKNOWN_(\d+)$/.exec(name);
  if (m) return Number(m[1]);
  throw new Error(`unsupported record class ${name}`);
}

// ---------------------------------- encoding ----------------------------------

class Writer {
  #buf = new Uint8Array(512);
  #view = new DataView(this.#buf.buffer);
  length = 0;

  #room(n: number) {
    if (this.length + n <= this.#buf.length) return;
    const bigger = new Uint8Array(Math.max(this.#buf.length * 2, this.length + n));
    bigger.set(this.#buf);
    this.#buf = bigger;
    this.#view = new DataView(bigger.buffer);
  }
  u8(v: number) {
    this.#room(1);
    this.#buf[this.length++] = v & 0xff;
  }
  u16(v: number) {
    this.#room(2);
    this.#view.setUint16(this.length, v & 0xffff);
    this.length += 2;
  }
  u32(v: number) {
    this.#room(4);
    this.#view.setUint32(this.length, v >>> 0);
    this.length += 4;
  }
  bytes(b: Uint8Array) {
    this.#room(b.length);
    this.#buf.set(b, this.length);
    this.length += b.length;
  }
  /** Overwrites a u16 written earlier (a length). */
  patch16(at: number, v: number) {
    this.#view.setUint16(at, v);
  }
  result(): Uint8Array<ArrayBuffer> {
    return this.#buf.slice(0, this.length);
  }
}

const encoder = new TextEncoder();

/** A name as labels, no compression; leading and trailing dots are ignored ("." is the root). */
function writeName(w: Writer, name: string) {
  const n = name.replace(/^\.|\.$/gm, "");
  if (n.length > 0) {
    for (const label of n.split(".")) {
      const b = encoder.encode(label);
      if (b.length > 63) throw new Error(`label too long in ${name}`);
      w.u8(b.length);
      w.bytes(b);
    }
  }
  w.u8(0);
}

function writeCharacterString(w: Writer, s: Uint8Array) {
  if (s.length > 255) throw new Error("TXT string longer than 255 bytes");
  w.u8(s.length);
  w.bytes(s);
}

function writeRdata(w: Writer, type: string, data: unknown) {
  const at = w.length;
  w.u16(0); // RDLENGTH, patched below
  switch (type.toUpperCase()) {
    case "A": {
      const parts = String(data).split(".").map(Number);
      if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
        throw new Error(`not an IPv4 address: ${String(data)}`);
      }
      for (const p of parts) w.u8(p);
      break;
    }
    case "PTR":
    case "CNAME":
    case "NS":
      writeName(w, String(data));
      break;
    case "SRV": {
      const d = (data ?? {}) as {
        priority?: number;
        weight?: number;
        port?: number;
        target: string;
      };
      w.u16(d.priority || 0);
      w.u16(d.weight || 0);
      w.u16(d.port || 0);
      writeName(w, d.target);
      break;
    }
    case "TXT": {
      const list = Array.isArray(data) ? data : [data];
      for (const item of list) {
        if (typeof item === "string") writeCharacterString(w, encoder.encode(item));
        else if (item instanceof Uint8Array) writeCharacterString(w, item);
        else throw new Error("TXT data must be strings or bytes");
      }
      break;
    }
    default:
      if (!(data instanceof Uint8Array)) throw new Error(`no encoding for ${type} data`);
      w.bytes(data);
  }
  w.patch16(at, w.length - at - 2);
}

/** The wire form of a packet: header, then questions, answers, authorities, additionals. */
export function encodePacket(p: DnsPacket): Uint8Array<ArrayBuffer> {
  const questions = p.questions ?? [];
  const sections = [p.answers ?? [], p.authorities ?? [], p.additionals ?? []];
  const w = new Writer();
  w.u16(p.id ?? 0);
  w.u16(((p.flags ?? 0) & 0x7fff) | (p.type === "response" ? RESPONSE_FLAG : 0));
  w.u16(questions.length);
  for (const s of sections) w.u16(s.length);
  for (const q of questions) {
    writeName(w, q.name);
    w.u16(typeCode(q.type));
    w.u16(classCode(q.class));
  }
  for (const section of sections) {
    for (const r of section) {
      writeName(w, r.name);
      w.u16(typeCode(r.type));
      w.u16(classCode(r.class) | (r.flush ? FLUSH_MASK : 0));
      w.u32(r.ttl ?? 0);
      writeRdata(w, r.type, r.data);
    }
  }
  return w.result();
}

// ---------------------------------- decoding ----------------------------------

const decoder = new TextDecoder();

class Reader {
  readonly view: DataView;
  at = 0;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  need(n: number) {
    if (this.at + n > this.buf.length) throw new Error("DNS packet truncated");
  }
  u8(): number {
    this.need(1);
    return this.buf[this.at++];
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.at);
    this.at += 4;
    return v;
  }
}

/** The name at `r.at` (advancing past it), following compression pointers to earlier data. */
function readName(r: Reader): string {
  const labels: string[] = [];
  let at = r.at;
  let floor = at; // a pointer must point before the data it was found in
  let end: number | undefined;
  let total = 0;
  for (;;) {
    if (at >= r.buf.length) throw new Error("Cannot decode name (buffer overflow)");
    const len = r.buf[at++];
    if (len === 0) break;
    if ((len & 0xc0) === 0) {
      if (at + len > r.buf.length) throw new Error("Cannot decode name (buffer overflow)");
      total += len + 1;
      if (total > 254) throw new Error("Cannot decode name (name too long)");
      labels.push(decoder.decode(r.buf.subarray(at, at + len)));
      at += len;
    } else if ((len & 0xc0) === 0xc0) {
      if (at >= r.buf.length) throw new Error("Cannot decode name (buffer overflow)");
      const target = ((len & 0x3f) << 8) | r.buf[at++];
      if (target >= floor) throw new Error("Cannot decode name (bad pointer)");
      end ??= at;
      at = target;
      floor = target;
    } else {
      throw new Error("Cannot decode name (bad label)");
    }
  }
  r.at = end ?? at;
  return labels.length === 0 ? "." : labels.join(".");
}

function readRecord(r: Reader): DnsRecord {
  const name = readName(r);
  const type = typeName(r.u16());
  const klass = r.u16();
  const ttl = r.u32();
  const rdlength = r.u16();
  r.need(rdlength);
  const start = r.at;
  const end = start + rdlength;
  let data: unknown;
  switch (type) {
    case "A":
      if (rdlength !== 4) throw new Error("A record of the wrong length");
      data = Array.from(r.buf.subarray(start, end)).join(".");
      break;
    case "PTR":
    case "CNAME":
    case "NS":
      data = readName(r);
      break;
    case "SRV": {
      const priority = r.u16();
      const weight = r.u16();
      const port = r.u16();
      data = { priority, weight, port, target: readName(r) };
      break;
    }
    case "TXT": {
      const list: Uint8Array[] = [];
      while (r.at < end) {
        const len = r.u8();
        if (r.at + len > end) throw new Error("Buffer overflow");
        list.push(r.buf.slice(r.at, r.at + len));
        r.at += len;
      }
      data = list;
      break;
    }
    default:
      data = r.buf.slice(start, end);
  }
  r.at = end;
  return {
    name,
    type,
    class: className(klass & ~FLUSH_MASK),
    ttl,
    flush: (klass & FLUSH_MASK) !== 0,
    data,
  };
}

/** A packet from its wire form; throws an Error when it is malformed. */
export function decodePacket(buf: Uint8Array): DnsPacket {
  const r = new Reader(buf);
  if (buf.length < 12) throw new Error("Header must be 12 bytes");
  const id = r.u16();
  const flags = r.u16();
  const counts = [r.u16(), r.u16(), r.u16(), r.u16()];
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const name = readName(r);
    const type = typeName(r.u16());
    questions.push({ name, type, class: className(r.u16() & 0x7fff) });
  }
  const [answers, authorities, additionals] = counts.slice(1).map((n) => {
    const list: DnsRecord[] = [];
    for (let i = 0; i < n; i++) list.push(readRecord(r));
    return list;
  });
  return {
    id,
    type: flags & RESPONSE_FLAG ? "response" : "query",
    flags: flags & 0x7fff,
    questions,
    answers,
    authorities,
    additionals,
  };
}
