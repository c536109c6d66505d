// `node dist/lab/pod-server-bin.js --control PATH [--port 80/TCP]...`: the pod
// server without the weft CLI in front (tests and measurements spawn this).
import { podServerCommand } from './pod-server-main.js';

process.exitCode = await podServerCommand(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
});
