import type { IncomingMessage } from 'node:http';
import { isPlainObject } from '../../core/model/fields.js';
import { ErrorCodes } from '../../core/errors.js';
import { KubeError, statusError } from './errors.js';
import { LineSplitter } from './lines.js';

/**
 * The list/watch wire format, read strictly: a LIST page's items,
 * resourceVersion and continue token; a watch stream's lines and events;
 * an object's key and resourceVersion. Anything else is a PROTOCOL error.
 */

export interface ResourceRef {
  /** The plural name: `pods`. */
  readonly name: string;
  readonly path: string;
  readonly namespaced: boolean;
}

export interface ListPage {
  readonly items: unknown[];
  readonly resourceVersion: string;
  readonly continue?: string;
}

export function readListPage(resource: ResourceRef, page: unknown): ListPage {
  const meta = isPlainObject(page) ? page['metadata'] : undefined;
  const items = isPlainObject(page) ? (page['items'] ?? []) : undefined;
  const rv = isPlainObject(meta) ? meta['resourceVersion'] : undefined;
  if (!Array.isArray(items) || typeof rv !== 'string' || rv === '') {
    throw new KubeError(
      ErrorCodes.KUBE_PROTOCOL,
      `${resource.path}: a list response needs items and metadata.resourceVersion`,
    );
  }
  const cont = isPlainObject(meta) ? meta['continue'] : undefined;
  return {
    items,
    resourceVersion: rv,
    ...(typeof cont === 'string' && cont ? { continue: cont } : {}),
  };
}

export interface Identified {
  /** `ns/name` or `name`. */
  readonly key: string;
  readonly rv: string;
  readonly raw: Record<string, unknown>;
}

/** An object's store key and resourceVersion; a bookmark needs only the resourceVersion. */
export function identify(resource: ResourceRef, object: unknown, bookmark = false): Identified {
  const meta = isPlainObject(object) ? object['metadata'] : undefined;
  const rv = isPlainObject(meta) ? meta['resourceVersion'] : undefined;
  const name = isPlainObject(meta) ? meta['name'] : undefined;
  const ns = isPlainObject(meta) ? meta['namespace'] : undefined;
  if (
    !isPlainObject(object) ||
    typeof rv !== 'string' ||
    rv === '' ||
    (!bookmark && (typeof name !== 'string' || (resource.namespaced && typeof ns !== 'string')))
  ) {
    const nsField = resource.namespaced ? 'metadata.namespace, ' : '';
    throw new KubeError(
      ErrorCodes.KUBE_PROTOCOL,
      `${resource.name}: an object without ${nsField}metadata.name or metadata.resourceVersion`,
    );
  }
  const key = resource.namespaced ? `${ns as string}/${name as string}` : (name as string);
  return { key, rv, raw: object };
}

export type WatchEvent =
  | ({ readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' } & Identified)
  | { readonly type: 'BOOKMARK'; readonly rv: string };

/** One line of a watch stream; an ERROR event is thrown as the KubeError of its Status. */
export function decodeEvent(resource: ResourceRef, line: string): WatchEvent {
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    throw new KubeError(
      ErrorCodes.KUBE_PROTOCOL,
      `a watch event is not JSON: ${line.slice(0, 80)}`,
    );
  }
  const type = isPlainObject(event) ? event['type'] : undefined;
  const object = isPlainObject(event) ? event['object'] : undefined;
  switch (type) {
    case 'ERROR': {
      const s = isPlainObject(object) ? object : {};
      const code = typeof s['code'] === 'number' ? s['code'] : 500;
      const reason = typeof s['reason'] === 'string' ? s['reason'] : undefined;
      throw statusError(code, reason, String(s['message'] ?? 'watch error'));
    }
    case 'BOOKMARK':
      return { type, rv: identify(resource, object, true).rv };
    case 'ADDED':
    case 'MODIFIED':
    case 'DELETED':
      return { type, ...identify(resource, object) };
    default:
      throw new KubeError(
        ErrorCodes.KUBE_PROTOCOL,
        `unknown watch event type ${JSON.stringify(type)}`,
      );
  }
}

/**
 * Reads a watch response until it ends (resolves) or breaks, goes silent for
 * `idleMs`, or `onLines` throws (rejects, the response destroyed). Each chunk's
 * complete lines go to `onLines` together.
 */
export function readWatchStream(
  res: IncomingMessage,
  idleMs: number,
  onLines: (lines: readonly string[]) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const lines = new LineSplitter();
    let count = 0;
    let done = false;
    const finish = (e?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      if (e === undefined) return resolve();
      res.destroy();
      reject(e);
    };
    const idle = setTimeout(() => {
      finish(new KubeError(ErrorCodes.KUBE_CONNECTION, `the watch was silent for ${idleMs} ms`));
    }, idleMs);
    res.on('data', (chunk: Buffer) => {
      idle.refresh();
      const complete = lines.push(chunk);
      count += complete.length;
      try {
        if (complete.length > 0) onLines(complete);
      } catch (e) {
        finish(e);
      }
    });
    res.on('end', () => finish());
    const broken = (e?: Error) => {
      const partial = lines.partial ? ' (a partial event dropped)' : '';
      const why = e ? `: ${e.message}` : '';
      const message = `the watch stream broke after ${count} events${partial}${why}`;
      finish(new KubeError(ErrorCodes.KUBE_CONNECTION, message));
    };
    res.on('error', broken);
    res.on('close', () => broken());
  });
}

/** Exponential backoff, capped, with equal jitter: a delay in [d/2, d]. */
export function backoffDelay(
  failures: number,
  o: { readonly initialMs: number; readonly maxMs: number },
  random: () => number,
): number {
  const d = Math.min(o.maxMs, o.initialMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return Math.round(d / 2 + (random() * d) / 2);
}
