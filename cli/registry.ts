// `herd registry`: serve a discovery registry until SIGINT/SIGTERM.

import { UsageError } from "../core/errors.ts";
import { parseDuration } from "../core/units.ts";
import { DEFAULT_REGISTRY_OPTIONS, serveRegistry } from "../core/registry/server.ts";
import { parse } from "./common.ts";

export const DEFAULT_REGISTRY_PORT = 7949;

export const HELP = `Usage: herd registry [flags]

Serves a herd registry: a meeting point for nodes that cannot find each other on a
LAN. Nodes with the 'registry' discovery method and discovery.registry set to this
URL announce themselves every interval and list their cluster's other nodes.
Announcements live in memory only and expire after --ttl. A listed node is only a
candidate: joining still needs the cluster's token.

Flags:
  --host H          address to listen on (default 0.0.0.0: every interface)
  --port P          TCP port (default ${DEFAULT_REGISTRY_PORT}; 0 picks a free one)
  --ttl DURATION    how long an announcement lives without being repeated
                    (default 30s: three of the nodes' default 10s discovery.interval)
`;

function port(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new UsageError(`registry: --port must be 0 to 65535: got '${text}'`);
  }
  return Number(text);
}

export async function run(args: string[]): Promise<number> {
  const { values } = parse("registry", args, {
    "host": { type: "string" },
    "port": { type: "string" },
    "ttl": { type: "string" },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const hostname = values.host ?? "0.0.0.0";
  if (hostname.trim() === "") throw new UsageError("registry: --host must not be empty");
  const ttlMs = values.ttl === undefined
    ? DEFAULT_REGISTRY_OPTIONS.ttlMs
    : parseDuration(values.ttl, "registry: --ttl");
  if (ttlMs < 1_000) {
    throw new UsageError(`registry: --ttl must be at least 1s: got '${values.ttl}'`);
  }

  let registry;
  try {
    registry = serveRegistry({
      hostname,
      port: values.port === undefined ? DEFAULT_REGISTRY_PORT : port(values.port),
    }, { ttlMs });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new UsageError(
        `registry: ${hostname}:${values.port ?? DEFAULT_REGISTRY_PORT} is in use`,
        {
          hint: "pick another port with --port",
        },
      );
    }
    if (e instanceof Deno.errors.AddrNotAvailable || e instanceof Deno.errors.NotFound) {
      throw new UsageError(`registry: cannot listen on ${hostname}: ${(e as Error).message}`);
    }
    throw e;
  }
  console.log(`herd registry listening on ${registry.url}`);
  const wildcard = hostname === "0.0.0.0" || hostname === "::";
  const nodeUrl = wildcard ? `http://<this machine's address>:${registry.port}` : registry.url;
  console.log(
    `  nodes: add "registry" to discovery.methods, set discovery.registry = "${nodeUrl}"`,
  );

  const stop = (sig: Deno.Signal) => () => {
    console.error(`herd registry: received ${sig}, stopping`);
    registry.stop();
  };
  const onInt = stop("SIGINT");
  const onTerm = stop("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  await registry.finished;
  Deno.removeSignalListener("SIGINT", onInt);
  Deno.removeSignalListener("SIGTERM", onTerm);
  console.error("herd registry: stopped");
  return 0;
}
