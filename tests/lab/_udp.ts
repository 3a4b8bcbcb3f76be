// A small UDP tool run inside lab hosts (deno run --unstable-net tests/lab/_udp.ts MODE ...):
//
//   echo PORT                   answer every datagram with itself; prints "ready" once bound
//   count PORT MS               count datagrams for MS ms after "ready", then print the count
//   send IP PORT N GAP_MS       send N datagrams, GAP_MS apart
//   ping IP PORT TIMEOUT_MS     send one datagram; exit 0 if it comes back in time, else 1

export const UDP_TOOL = new URL("./_udp.ts", import.meta.url).pathname;
export const UDP_TOOL_FLAGS = ["run", "--allow-net", "--unstable-net"];

async function main(args: string[]): Promise<number> {
  const [mode, ...rest] = args;
  const any = (port: number) =>
    Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port });
  switch (mode) {
    case "echo": {
      const sock = any(Number(rest[0]));
      console.log("ready");
      for (;;) {
        const [data, from] = await sock.receive();
        await sock.send(data, from);
      }
    }
    case "count": {
      const sock = any(Number(rest[0]));
      let n = 0;
      setTimeout(() => sock.close(), Number(rest[1]));
      console.log("ready");
      try {
        for (;;) {
          await sock.receive();
          n++;
        }
      } catch (e) {
        // close() from the timer ends the loop; anything else is a real failure
        if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted)) {
          throw e;
        }
      }
      console.log(n);
      return 0;
    }
    case "send": {
      const [ip, port, count, gap] = [rest[0], Number(rest[1]), Number(rest[2]), Number(rest[3])];
      const sock = any(0);
      for (let k = 0; k < count; k++) {
        await sock.send(new TextEncoder().encode(`d${k}`), {
          transport: "udp",
          hostname: ip,
          port,
        });
        await new Promise((r) => setTimeout(r, gap));
      }
      sock.close();
      return 0;
    }
    case "ping": {
      const [ip, port, timeout] = [rest[0], Number(rest[1]), Number(rest[2])];
      const sock = any(0);
      const timer = setTimeout(() => sock.close(), timeout);
      await sock.send(new TextEncoder().encode("ping"), { transport: "udp", hostname: ip, port });
      try {
        const [data] = await sock.receive();
        clearTimeout(timer);
        sock.close();
        return new TextDecoder().decode(data) === "ping" ? 0 : 1;
      } catch (e) {
        if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted)) {
          throw e;
        }
        console.log(`no echo from ${ip}:${port} in ${timeout} ms`);
        return 1;
      }
    }
    default:
      console.error(
        "usage: _udp.ts echo PORT | count PORT MS | send IP PORT N GAP_MS | ping IP PORT MS",
      );
      return 2;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
