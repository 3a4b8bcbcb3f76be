// Runs inside the permission-scoped worker of the `deno` executor: imports the
// job's module, calls its default export with the payload, and reports the
// result. Console output is forwarded to the job's log instead of the agent's.

/// <reference lib="deno.worker" />

export interface WorkerRequest {
  moduleUrl: string;
  payload: unknown;
}

export type WorkerMessage =
  | { type: "out"; stream: "stdout" | "stderr"; text: string }
  | { type: "done"; result: unknown }
  | { type: "fail"; name: string; message: string };

const post = (m: WorkerMessage) => self.postMessage(m);

function format(args: unknown[]): string {
  return args.map((a) => typeof a === "string" ? a : Deno.inspect(a)).join(" ") + "\n";
}
const toOut = (...a: unknown[]) => post({ type: "out", stream: "stdout", text: format(a) });
const toErr = (...a: unknown[]) => post({ type: "out", stream: "stderr", text: format(a) });
console.log = toOut;
console.info = toOut;
console.debug = toOut;
console.warn = toErr;
console.error = toErr;

self.onmessage = async (e: MessageEvent<WorkerRequest>) => {
  try {
    const mod = await import(e.data.moduleUrl);
    if (typeof mod.default !== "function") {
      post({
        type: "fail",
        name: "TypeError",
        message: "the module has no default export function",
      });
      return;
    }
    const result = await mod.default(e.data.payload);
    // The result must survive JSON (it is stored and printed as JSON).
    const json = JSON.stringify(result ?? null);
    post({ type: "done", result: JSON.parse(json) });
  } catch (err) {
    const name = err instanceof Error ? err.name : "Error";
    const message = err instanceof Error ? err.message : String(err);
    post({ type: "fail", name, message });
  }
};
