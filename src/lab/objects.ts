import { readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { load, loadAll, YAML11_SCHEMA } from 'js-yaml';
import { stringify } from 'yaml';
import { READ_KINDS } from '../core/model/parse.js';
import { manifestFiles } from '../sources/manifests/load.js';

/** Kinds the lab keeps in its manifests directory: the ones weft reads. */
const KINDS: ReadonlySet<string> = new Set(READ_KINDS.keys());
export const NAMESPACED_KINDS: ReadonlySet<string> = new Set(
  [...READ_KINDS].filter(([, k]) => k.namespaced).map(([kind]) => kind),
);

export interface StoredObject {
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly raw: Record<string, unknown>;
}

export function objectId(o: { kind: string; namespace?: string; name: string }): string {
  return o.namespace ? `${o.kind}/${o.namespace}/${o.name}` : `${o.kind}/${o.name}`;
}

function fileOf(o: { kind: string; namespace?: string; name: string }): string {
  return `${o.kind}.${o.namespace ?? '_'}.${o.name}.yaml`;
}

function identify(raw: unknown): StoredObject | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const r = raw as Record<string, unknown>;
  const kind = r['kind'];
  const meta = r['metadata'] as Record<string, unknown> | undefined;
  if (typeof kind !== 'string' || !KINDS.has(kind) || typeof meta?.['name'] !== 'string')
    return undefined;
  const namespace = NAMESPACED_KINDS.has(kind) ? String(meta['namespace'] ?? 'default') : undefined;
  return { kind, name: meta['name'], ...(namespace ? { namespace } : {}), raw: r };
}

/** The raw objects of manifest files (already validated by loadManifests), Lists expanded. */
export async function readObjects(paths: readonly string[]): Promise<StoredObject[]> {
  const out: StoredObject[] = [];
  for (const file of await manifestFiles(paths)) {
    const text = await readFile(file, 'utf8');
    for (const doc of loadAll(text, { schema: YAML11_SCHEMA })) {
      const d = doc as Record<string, unknown> | null;
      const items =
        d &&
        typeof d['kind'] === 'string' &&
        d['kind'].endsWith('List') &&
        Array.isArray(d['items'])
          ? d['items']
          : [d];
      for (const item of items) {
        const o = identify(item);
        if (o) out.push(o);
      }
    }
  }
  return out;
}

/** The lab's manifests directory: one file per object, replaced atomically so agents never read half a file. */
export class ObjectStore {
  constructor(private readonly dir: string) {}

  async put(o: StoredObject): Promise<void> {
    const file = join(this.dir, fileOf(o));
    const tmp = join(this.dir, `.${fileOf(o)}.tmp`);
    // YAML 1.1, as every reader of the directory parses it: strings like `y` stay quoted.
    await writeFile(tmp, stringify(o.raw, { version: '1.1' }));
    await rename(tmp, file);
  }

  async remove(o: { kind: string; namespace?: string; name: string }): Promise<boolean> {
    const file = join(this.dir, fileOf(o));
    try {
      await rm(file);
      return true;
    } catch {
      return false;
    }
  }

  async get(o: {
    kind: string;
    namespace?: string;
    name: string;
  }): Promise<StoredObject | undefined> {
    try {
      return identify(
        load(await readFile(join(this.dir, fileOf(o)), 'utf8'), { schema: YAML11_SCHEMA }),
      );
    } catch {
      return undefined;
    }
  }

  async list(): Promise<string[]> {
    return (await readdir(this.dir)).filter((f) => f.endsWith('.yaml'));
  }
}

/** A pod's manifest as the lab stores it: scheduled, with the address its CNI ADD gave it. */
export function withPlacement(
  raw: Record<string, unknown>,
  node: string,
  ips: readonly string[],
): Record<string, unknown> {
  const spec = { ...((raw['spec'] as Record<string, unknown> | undefined) ?? {}), nodeName: node };
  const status = ips.length ? { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) } : {};
  return { ...raw, spec, status };
}
