// `/v1/events` as server-sent events: each event once, `id:` set so a client can
// resume with Last-Event-ID; a comment line every 15 s keeps proxies from closing it.

import type { EventHub } from "../events.ts";

export const KEEPALIVE_MS = 15_000;

const enc = new TextEncoder();

/**
 * The stream of events after `afterId` (kept ones first), or only new ones when it is
 * undefined; `types` filters by event type.
 */
export function eventStream(
  hub: EventHub,
  afterId: number | undefined,
  types?: string[],
): ReadableStream<Uint8Array> {
  const sub = hub.subscribe(afterId);
  let keepalive: ReturnType<typeof setInterval> | undefined;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(enc.encode(": herd events\n\n"));
      keepalive = setInterval(
        () => controller.enqueue(enc.encode(": keepalive\n\n")),
        KEEPALIVE_MS,
      );
    },
    async pull(controller) {
      for (;;) {
        const e = await sub.next();
        if (!e) {
          if (sub.overflowed) {
            controller.enqueue(enc.encode("event: overflow\ndata: {}\n\n"));
          }
          clearInterval(keepalive);
          controller.close();
          return;
        }
        if (types && !types.includes(e.type)) continue;
        const data = JSON.stringify({ at: e.at, ...e.data });
        controller.enqueue(enc.encode(`id: ${e.id}\nevent: ${e.type}\ndata: ${data}\n\n`));
        return;
      }
    },
    cancel() {
      clearInterval(keepalive);
      sub.close();
    },
  });
}
