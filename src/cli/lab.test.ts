// `weft lab` mistakes that are caught before anything is built or run: no
// root needed, nothing is created but the lab's directory under a temp root.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWeft } from '../testing/cli.js';
import { main } from './main.js';

const root = mkdtempSync(join(tmpdir(), 'weft-lab-cli-'));
process.env['WEFT_LAB_ROOT'] = root;
test.after(() => rmSync(root, { recursive: true, force: true }));

async function weft(...argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const io = {
    out: () => undefined,
    write: () => undefined,
    err: (t: string) => (err += `${t}\n`),
  };
  return { code: await main(argv, io), err };
}

test('lab up: a bad external range or node is refused before anything is built', async () => {
  assert.deepEqual(await weft('lab', 'up', '--name', 'cli1', '--external-via', 'node-3'), {
    code: 2,
    err: 'weft: lab up: --external-via: node-3 is not a node of this lab (fix: name one of: node-1, node-2) [WEFT_USAGE]\n',
  });
  assert.deepEqual(await weft('lab', 'up', '--name', 'cli1', '--external-cidr', '10.244.0.0/24'), {
    code: 2,
    err: 'weft: lab up: --external-cidr: 10.244.0.0/24 overlaps 10.244.0.0/16, the pod addresses (fix: choose another range) [WEFT_USAGE]\n',
  });
});

test('lab exec: one target, a command, and a lab that is up', async () => {
  const fix =
    '  fix: e.g. weft lab exec default/web -- ip addr, weft lab exec --external -- ip route\n';
  assert.deepEqual(await weft('lab', 'exec', '--', 'ip', 'addr'), {
    code: 2,
    err: `weft: exec needs NS/POD, --node NODE or --external, then -- CMD\n${fix}`,
  });
  assert.deepEqual(await weft('lab', 'exec', '--external'), {
    code: 2,
    err: `weft: exec needs NS/POD, --node NODE or --external, then -- CMD\n${fix}`,
  });
  assert.deepEqual(await weft('lab', 'exec', '--external', '--node', 'node-1', '--', 'true'), {
    code: 2,
    err: `weft: exec takes one of NS/POD, --node NODE, --external\n${fix}`,
  });
  assert.deepEqual(
    await weft('lab', 'exec', '--name', 'absent', '--node', 'node-1', '--', 'true'),
    {
      code: 1,
      err: 'weft: lab absent: is not up (fix: start it with: weft lab up --name absent) [WEFT_NOT_FOUND]\n',
    },
  );
});

test('lab probe --to-service: checked before the lab is asked; a lab that is not up says so', async () => {
  assert.deepEqual(await weft('lab', 'probe', '--to-service', 'shop/api', '--to', 'shop/db'), {
    code: 2,
    err: 'weft: --to and --to-service both given\n  fix: probe pods with --to NS/POD, or a Service with --to-service NS/NAME\n',
  });
  assert.deepEqual(await weft('lab', 'probe', '--name', 'absent', '--to-service', 'shop/api'), {
    code: 1,
    err: 'weft: lab absent: is not up (fix: start it with: weft lab up --name absent) [WEFT_NOT_FOUND]\n',
  });
  assert.deepEqual(await weft('lab', 'probe', '--to-servce', 'shop/api'), {
    code: 2,
    err: 'weft: lab probe: unknown flag --to-servce\n  fix: did you mean --to-service? (see weft lab probe --help)\n',
  });
});

test("lab VERB --help is that verb's help", async () => {
  const { code, out } = await runWeft('lab', 'probe', '--help');
  assert.equal(code, 0);
  assert.equal(
    out,
    `usage: weft lab probe [options]

  probe    [--port P/PROTO]... [--from NS/POD] [--to NS/POD] [--timeout-ms T] [-o table|json]
           real connections between pods; without --port, every declared port
  probe    --to-service NS/NAME [--port P/PROTO]... [--from NS/POD] [--timeout-ms T] [-o table|json]
           real connections from pods to a Service's ClusterIP ports (all, or those --port names)

--name defaults to "weft". Lab state lives in $WEFT_LAB_ROOT (default /run/weft-lab).
`,
  );
});
