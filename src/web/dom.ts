// Small DOM helpers for the page: elements from data, never from HTML strings.
import type { DecidedBy, FlowEndpoint } from '../core/flows/types.js';
import { policyRefText, ruleOriginText } from '../core/policy/ir.js';

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | ((e: Event) => void)>;

function apply(el: Element, attrs: Attrs, children: Child[]): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'object' ? c : String(c));
  }
}

export function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  apply(el, attrs, children);
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';

export function s(tag: string, attrs: Attrs = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG, tag);
  apply(el, attrs, children);
  return el;
}

export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  const body = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(body.error ?? `${path}: ${res.status}`);
  return body;
}

export function decisionText(d: DecidedBy): string {
  switch (d.kind) {
    case 'rule':
      return `rule ${ruleOriginText(d.rule)}`;
    case 'isolation':
      return `isolated by ${d.isolatedBy.map(policyRefText).join(', ')}; no rule allowed it`;
    case 'default':
      return 'no policy applies in this direction (allowed)';
    case 'unknown':
      return 'the agent could not tell which rule decided';
  }
}

/** `shop/db`, a node's name, or an address. */
export function endpointName(e: FlowEndpoint): string {
  if (e.kind === 'pod') return `${e.namespace}/${e.pod}`;
  if (e.kind === 'host') return `host ${e.node ?? e.ip}`;
  return e.ip;
}

/** What a trace URL names an endpoint by: its pod when it is one, else its address. */
export function traceName(e: FlowEndpoint): string {
  return e.kind === 'pod' ? `${e.namespace}/${e.pod}` : e.ip;
}

export function traceHref(
  from: FlowEndpoint,
  to: FlowEndpoint,
  protocol: string,
): string | undefined {
  if (to.port === undefined || !['TCP', 'UDP', 'SCTP'].includes(protocol)) return undefined;
  const p = new URLSearchParams({
    from: traceName(from),
    to: traceName(to),
    port: `${to.port}/${protocol}`,
  });
  return `/trace?${p.toString()}`;
}

export function clockTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
