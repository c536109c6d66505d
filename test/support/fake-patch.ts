import type { IncomingMessage } from 'node:http';
import { FAKE_RESOURCES, type FakeStore } from './fake-store.js';
import { HttpError } from './fake-wire.js';

/**
 * PATCH of one Node with a JSON merge patch (RFC 7386), as the agent writes
 * its annotations: the only write the fake API server takes. Strict as the
 * real one: another content type is 415, a body that is not a JSON object
 * 400, a missing Node 404, a patch that renames the object or changes its
 * kind 400.
 */

type Raw = Record<string, unknown>;

const NODE_PATH = /^\/api\/v1\/nodes\/([^/]+)$/;

/** The Node name of a PATCH path, or undefined when it is not one. */
export function patchTarget(path: string): string | undefined {
  const m = NODE_PATH.exec(path);
  return m ? decodeURIComponent(m[1] as string) : undefined;
}

function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386: objects merge key by key, null removes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Raw = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export async function readPatch(req: IncomingMessage): Promise<Raw> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
  if (type !== 'application/merge-patch+json')
    throw new HttpError(415, 'UnsupportedMediaType', `the content type ${type} is not supported`);
  let text = '';
  for await (const chunk of req) text += String(chunk);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'BadRequest', 'the patch is not JSON');
  }
  if (!isObject(body)) throw new HttpError(400, 'BadRequest', 'a merge patch must be an object');
  return body;
}

/** Applies the patch to the Node `name`; returns the object as served (with apiVersion and kind). */
export function applyNodePatch(store: FakeStore, name: string, patch: Raw): Raw {
  const before = store.current('nodes', name);
  if (before === undefined) throw new HttpError(404, 'NotFound', `nodes "${name}" not found`);
  const next = mergePatch(JSON.parse(before), patch) as Raw;
  const meta = (next['metadata'] ?? {}) as Raw;
  if (meta['name'] !== name || 'kind' in patch || 'apiVersion' in patch)
    throw new HttpError(400, 'BadRequest', 'a patch may not change the name or kind');
  const annotations = meta['annotations'];
  if (annotations !== undefined) {
    if (!isObject(annotations) || Object.values(annotations).some((v) => typeof v !== 'string'))
      throw new HttpError(400, 'BadRequest', 'metadata.annotations: values must be strings');
  }
  store.write('nodes', name, next);
  const def = FAKE_RESOURCES['nodes'];
  return {
    apiVersion: def?.apiVersion,
    kind: def?.kind,
    ...JSON.parse(store.current('nodes', name) as string),
  };
}
