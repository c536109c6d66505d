// The fake API server as a process of its own, so that it can run inside a
// network namespace next to an agent: `node fake-apiserver-main.js --serve`
// (without --serve it exits at once: `node --test dist-test/test/` runs every
// file it finds, this one too). It
// listens on 127.0.0.1 (of its namespace), prints `{"url":…}` once, then
// takes one JSON command a line on stdin and answers one JSON line on stdout:
//   {"id":1,"op":"create"|"update","resource":"pods","obj":{…}}
//   {"id":2,"op":"remove","resource":"pods","key":"default/a"}
//   {"id":3,"op":"get","resource":"nodes","key":"n1"}      → result: the object or null
//   {"id":4,"op":"inject","fault":{…}}
// and answers {"id":…,"ok":true,"result":…} or {"id":…,"ok":false,"error":"…"}.
import { createInterface } from 'node:readline';
import { FakeApiServer } from './fake-apiserver.js';
import type { Fault } from './fake-wire.js';

interface Command {
  readonly id: number;
  readonly op: 'create' | 'update' | 'remove' | 'get' | 'inject';
  readonly resource?: string;
  readonly key?: string;
  readonly obj?: Record<string, unknown>;
  readonly fault?: Fault;
}

if (process.argv[2] !== '--serve') process.exit(0);
const server = await FakeApiServer.start({ record: false });
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);

function run(c: Command): unknown {
  const resource = c.resource ?? '';
  switch (c.op) {
    case 'create':
      return server.create(resource, c.obj ?? {});
    case 'update':
      return server.update(resource, c.obj ?? {});
    case 'remove':
      return server.remove(resource, c.key ?? '');
    case 'get': {
      const json = server.store.current(resource, c.key ?? '');
      return json === undefined ? null : JSON.parse(json);
    }
    case 'inject':
      if (c.fault) server.inject(c.fault);
      return null;
    default:
      throw new Error(`unknown op ${String((c as { op: unknown }).op)}`);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let id = -1;
  try {
    const c = JSON.parse(line) as Command;
    id = c.id;
    process.stdout.write(`${JSON.stringify({ id, ok: true, result: run(c) ?? null })}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ id, ok: false, error: String(e) })}\n`);
  }
});
lines.on('close', () => void server.close().then(() => process.exit(0)));
