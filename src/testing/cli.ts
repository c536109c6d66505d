import { main } from '../cli/main.js';

/** Runs one weft command line in this process; what it printed, and its exit code. */
export async function runWeft(
  ...argv: string[]
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, {
    out: (t) => (out += `${t}\n`),
    write: (t) => (out += t),
    err: (t) => (err += `${t}\n`),
  });
  return { code, out, err };
}
