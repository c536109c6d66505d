import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WeftError } from '../core/errors.js';
import { matchesFlow } from '../core/flows/filter.js';
import { mapAnswer, matching, policyAnswer, queryOf, traceAnswer, workloadsAnswer } from './api.js';
import type { Entry, FlowFeed } from './feed.js';
import type { PolicySource } from './policy-source.js';
import { serviceAnswer } from './services.js';
import { boundConnections, refused, type Guard } from '../listen/guard.js';
import { STREAM_LIMITS, StreamGate, StreamPump, type StreamLimits } from '../listen/streams.js';

/** The built page: index.html, app.js and app.css (scripts/build-web.mjs writes them). */
export const ASSETS_DIR = fileURLToPath(new URL('../web/', import.meta.url));

const PAGES = new Set(['/', '/trace', '/policy']);
const ASSETS: Readonly<Record<string, string>> = {
  '/app.js': 'text/javascript; charset=utf-8',
  '/app.css': 'text/css; charset=utf-8',
};
/** Flows a page's table starts with, unless it asks for `last`. */
const DEFAULT_LAST = 200;

export interface UiOptions {
  readonly feed: FlowFeed;
  readonly policy: PolicySource;
  /** What the page shows as its source, e.g. `lab weft`. */
  readonly title: string;
  readonly assets?: string;
  /** The access rule and Host check, applied before routing. */
  readonly guard: Guard;
  /** Stream bounds (default STREAM_LIMITS). */
  readonly streamLimits?: StreamLimits;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

type Handler = (url: URL, req: IncomingMessage, res: ServerResponse) => Promise<unknown> | unknown;

function routes(o: UiOptions, streams: StreamGate): Record<string, Handler> {
  const now = () => Date.now();
  return {
    '/api/status': () => ({ title: o.title, feed: o.feed.status(), now: now() }),
    '/api/flows': (url) => {
      const q = queryOf(url.searchParams, now());
      const last = q.last ?? DEFAULT_LAST;
      return { flows: matching(o.feed, { ...q, last }), feed: o.feed.status() };
    },
    '/api/map': (url) => ({
      ...mapAnswer(o.feed, queryOf(url.searchParams, now())),
      feed: o.feed.status(),
      now: now(),
    }),
    '/api/workloads': () => workloadsAnswer(o.feed, o.policy),
    '/api/policy': (url) => policyAnswer(o.feed, o.policy, url.searchParams),
    '/api/trace': (url) => traceAnswer(o.policy, url.searchParams),
    '/api/service': (url) => serviceAnswer(o.policy, url.searchParams),
    '/api/stream': (url, req, res) => stream(o.feed, streams, url, req, res),
  };
}

/**
 * Server-sent events: the matching buffered flows (the last `last`), then
 * each new one, as the client reads them (StreamPump); a stream past the
 * listener's bounds is refused.
 */
function stream(
  feed: FlowFeed,
  streams: StreamGate,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
): symbol {
  // `since` is relative to when the page asked; live flows are newer anyway.
  const q = queryOf(url.searchParams, Date.now());
  const admitted = streams.admit(req.socket.remoteAddress);
  if (!admitted.ok) {
    sendJson(res, admitted.status, { error: admitted.message });
    return STREAMING;
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  const pump = new StreamPump<Entry>(res, (e) => `data: ${JSON.stringify(e)}\n\n`, streams);
  for (const e of matching(feed, { ...q, last: q.last ?? DEFAULT_LAST })) pump.push(e);
  const live = { ...q, since: undefined, until: undefined };
  const unsubscribe = feed.subscribe((e) => {
    if (matchesFlow(live, e.flow)) pump.push(e);
  });
  const ping = setInterval(() => pump.raw(': ping\n\n'), 15_000);
  res.on('close', () => {
    clearInterval(ping);
    unsubscribe();
    admitted.release();
  });
  return STREAMING;
}

const STREAMING = Symbol('streaming');

async function serveAsset(dir: string, path: string, res: ServerResponse): Promise<void> {
  const file = PAGES.has(path) ? 'index.html' : path.slice(1);
  const type = PAGES.has(path) ? 'text/html; charset=utf-8' : (ASSETS[path] as string);
  const body = await readFile(join(dir, file));
  res.writeHead(200, {
    'content-type': type,
    'content-length': body.length,
    'cache-control': 'no-cache',
    // Nothing outside this server: no CDN, no external request.
    'content-security-policy':
      "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
  });
  res.end(body);
}

export function createUiServer(o: UiOptions): Server {
  const streams = new StreamGate(
    o.guard.listener,
    o.streamLimits ?? STREAM_LIMITS,
    o.guard.metrics,
  );
  o.guard.metrics.register(o.guard.listener);
  const table = routes(o, streams);
  const dir = o.assets ?? ASSETS_DIR;
  const server = createServer((req, res) => {
    if (refused(o.guard, req, res)) return;
    const url = new URL(req.url ?? '/', 'http://ui.local');
    const path = url.pathname;
    // A page is open: an idling feed follows its agents again.
    o.feed.touch();
    const fail = (e: unknown) => {
      if (res.headersSent) return void res.end();
      if (e instanceof WeftError) return sendJson(res, 400, { error: e.message, issues: e.issues });
      sendJson(res, 500, { error: e instanceof Error ? e.message : String(e) });
    };
    if (req.method !== 'GET') return sendJson(res, 405, { error: `${req.method} is not served` });
    if (PAGES.has(path) || ASSETS[path]) return void serveAsset(dir, path, res).catch(fail);
    const handler = table[path];
    if (!handler) return sendJson(res, 404, { error: `no route GET ${path}` });
    Promise.resolve()
      .then(() => handler(url, req, res))
      .then((body) => {
        if (body !== STREAMING) sendJson(res, 200, body);
      })
      .catch(fail);
  });
  return boundConnections(server);
}

/** Where the UI answers, as a URL. */
export function uiUrl(server: Server): string {
  const { address, port } = server.address() as AddressInfo;
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}/`;
}
