// A bench's own arguments: `deno task NAME -- --flag` passes the `--` through, so drop it.
export function benchArgs(args: readonly string[] = Deno.args): string[] {
  return args[0] === "--" ? args.slice(1) : [...args];
}
