import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EndpointRecord, Owner } from '../api/types.js';

export function ownerKey(o: Owner): string {
  return `${o.containerId}/${o.ifname}`;
}

/** Endpoint records on disk, one JSON file each, replaced atomically (temp + rename). */
export class EndpointStore {
  constructor(private readonly dir: string) {}

  /** The directory, and every record in it, readable by root alone: records name pods. */
  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    for (const name of await readdir(this.dir)) await chmod(join(this.dir, name), 0o600);
  }

  private file(o: Owner): string {
    // Container IDs and interface names never contain '/', and '@' appears in neither.
    return join(this.dir, `${o.containerId}@${o.ifname}.json`);
  }

  async put(r: EndpointRecord): Promise<void> {
    const tmp = `${this.file(r)}.tmp-${process.pid}`;
    await writeFile(tmp, JSON.stringify(r, null, 2), { mode: 0o600 });
    await rename(tmp, this.file(r));
  }

  async get(o: Owner): Promise<EndpointRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.file(o), 'utf8')) as EndpointRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async remove(o: Owner): Promise<void> {
    await rm(this.file(o), { force: true });
  }

  /** Every readable record (temp files of writes in progress are skipped). */
  async list(): Promise<EndpointRecord[]> {
    const out: EndpointRecord[] = [];
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        out.push(JSON.parse(await readFile(join(this.dir, name), 'utf8')) as EndpointRecord);
      } catch {
        // Removed between readdir and read, or unreadable: recover() deals with the latter.
      }
    }
    return out;
  }

  /** At start, before any request: drops temp files and unreadable records left by a crash. */
  async recover(): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      let ok = name.endsWith('.json');
      if (ok) {
        try {
          JSON.parse(await readFile(path, 'utf8'));
        } catch {
          ok = false;
        }
      }
      if (!ok) {
        await rm(path, { force: true });
        removed++;
      }
    }
    return removed;
  }
}
