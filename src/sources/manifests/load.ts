import type { Stats } from 'node:fs';
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { isMap, isNode, isSeq, LineCounter, parseAllDocuments, type Document } from 'yaml';
import { ClusterPatcher } from './assemble.js';
import { loadDocumentsFast } from './fast-yaml.js';
import { ErrorCodes, WeftError, type Issue } from '../../core/errors.js';
import { Limits, sizeText } from '../../core/limits.js';
import { buildCluster, validatePodAddresses } from '../../core/model/cluster.js';
import { isPlainObject } from '../../core/model/fields.js';
import { parseObject } from '../../core/model/parse.js';
import type { Cluster, ModelObject, Origin } from '../../core/model/types.js';

/**
 * The manifests source: ordinary Kubernetes YAML (or JSON) files, read into
 * the core model. Every problem of every file is collected and thrown once.
 */

export interface ManifestContents {
  readonly objects: ModelObject[];
  readonly issues: Issue[];
  /** Objects of kinds weft does not read, `Kind ns/name (file:line)`. */
  readonly skipped: string[];
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

function syntaxIssue(file: string, line: number | undefined, message: string): Issue {
  return {
    code: ErrorCodes.MANIFEST_SYNTAX,
    object: line ? `${file}:${line}` : file,
    field: '',
    message,
    fix: 'fix the YAML syntax at that line',
  };
}

/**
 * Parses the text of one manifest file: every YAML document (`---`) is one
 * object, `kind: List` documents expand into their items, empty documents are
 * skipped. An object's Origin line is the line its first field starts on (a
 * List item's own line for List items). `.json` files are read as YAML 1.2
 * (a superset of JSON); YAML files with the YAML 1.1 schema, as Kubernetes
 * does, so `yes`/`no`/`on`/`off` are booleans there too.
 */
export function parseManifestText(text: string, file: string): ManifestContents {
  try {
    const fast = loadDocumentsFast(text, extname(file).toLowerCase() !== '.json');
    if (!fast) return withinLimits(parseManifestTextCarefully(text, file), file);
    if (fast.length > Limits.manifestObjectsPerFile) return tooMany(file, fast.length);
    const out: ManifestContents = { objects: [], issues: [], skipped: [] };
    for (const doc of fast) {
      if (tooDeep(doc.value)) out.issues.push(depthIssue(file, doc.line));
      else add(out, doc.value, { file, line: doc.line });
    }
    return withinLimits(out, file);
  } catch (e) {
    // Only nesting deep enough to exhaust the parser's stack gets here.
    if (e instanceof RangeError) return { objects: [], issues: [depthIssue(file)], skipped: [] };
    throw e;
  }
}

function limitIssue(object: string, message: string, fix: string): Issue {
  return { code: ErrorCodes.LIMIT, object, field: '', message, fix };
}

function depthIssue(file: string, line?: number): Issue {
  return limitIssue(
    line ? `${file}:${line}` : file,
    `nests maps and lists deeper than weft reads (${Limits.manifestDepth} levels)`,
    'Kubernetes objects nest far less: check that this is the manifest you meant',
  );
}

/** Whether `value` nests deeper than Limits.manifestDepth (walked without recursion). */
function tooDeep(value: unknown): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth > Limits.manifestDepth) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

function withinLimits(out: ManifestContents, file: string): ManifestContents {
  const count = out.objects.length + out.skipped.length;
  return count <= Limits.manifestObjectsPerFile ? out : tooMany(file, count);
}

function tooMany(file: string, count: number): ManifestContents {
  const issue = limitIssue(
    file,
    `holds ${count} objects; weft reads at most ${Limits.manifestObjectsPerFile} per file`,
    'split it into several files in one directory (a directory is read whole)',
  );
  return { objects: [], skipped: [], issues: [issue] };
}

/** The careful path: the full YAML document model, exact error lines, List item lines. */
export function parseManifestTextCarefully(text: string, file: string): ManifestContents {
  const out: ManifestContents = { objects: [], issues: [], skipped: [] };
  const lineCounter = new LineCounter();
  const version = extname(file).toLowerCase() === '.json' ? '1.2' : '1.1';
  const docs = parseAllDocuments(text, { lineCounter, version });
  // An error at the very end (an unclosed bracket) is reported on the last written line.
  const lastLine = lineCounter.linePos(Math.max(0, text.trimEnd().length - 1)).line;
  for (const doc of docs) {
    const startLine = lineCounter.linePos(doc.contents?.range[0] ?? doc.range[0]).line;
    if (doc.errors.some((e) => /Maximum call stack size exceeded/.test(e.message))) {
      out.issues.push(depthIssue(file, startLine));
      continue;
    }
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const line = Math.min(e.linePos?.[0].line ?? startLine, lastLine);
        // The message's own " at line L, column C:" would contradict the clamped line.
        const message = (e.message.split('\n')[0] ?? e.message).replace(
          / at line \d+, column \d+:?$/,
          '',
        );
        out.issues.push(syntaxIssue(file, line, message));
      }
      continue;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
      if (tooDeep(value)) {
        out.issues.push(depthIssue(file, startLine));
        continue;
      }
    } catch (err) {
      if (err instanceof RangeError) throw err;
      out.issues.push(
        syntaxIssue(file, startLine, err instanceof Error ? err.message : String(err)),
      );
      continue;
    }
    if (value === null || value === undefined) continue;
    const origin: Origin = { file, line: startLine };
    if (isList(value)) addList(out, value, doc, lineCounter, origin);
    else add(out, value, origin);
  }
  return out;
}

function isList(value: unknown): value is Record<string, unknown> {
  if (!isPlainObject(value) || typeof value['kind'] !== 'string') return false;
  return (
    value['kind'] === 'List' || (value['kind'].endsWith('List') && Array.isArray(value['items']))
  );
}

function add(out: ManifestContents, value: unknown, origin: Origin): void {
  const result = parseObject(value, origin);
  out.issues.push(...result.issues);
  if (result.object) out.objects.push(result.object);
  if (result.skipped) out.skipped.push(`${result.skipped} (${origin.file}:${origin.line})`);
}

/** `kind: List`: each item is parsed as its own object, with its own line. */
function addList(
  out: ManifestContents,
  list: Record<string, unknown>,
  doc: Document.Parsed,
  lineCounter: LineCounter,
  origin: Origin,
): void {
  const items = list['items'];
  if (items === undefined || items === null) return;
  if (!Array.isArray(items)) {
    out.issues.push({
      code: ErrorCodes.INVALID_FIELD,
      object: `List (${origin.file}:${origin.line})`,
      field: 'items',
      message: 'must be a list of objects',
      fix: 'write items as a YAML list',
    });
    return;
  }
  const node = isMap(doc.contents) ? doc.contents.get('items', true) : undefined;
  items.forEach((item, i) => {
    const itemNode: unknown = isSeq(node) ? node.items[i] : undefined;
    const range = isNode(itemNode) ? itemNode.range : undefined;
    const line = range ? lineCounter.linePos(range[0]).line : origin.line;
    add(out, item, { file: origin.file, ...(line ? { line } : {}) });
  });
}

interface ManifestFile {
  readonly path: string;
  /** Its stat when it was found (size, time and inode tell a changed file). */
  readonly stat: Stats;
}

type Found = { real: string; stat: Stats } | { error: unknown };

async function find(path: string): Promise<Found> {
  try {
    const real = await realpath(path);
    return { real, stat: await stat(real) };
  } catch (error) {
    return { error };
  }
}

/**
 * Every manifest file under the paths: files as given, directories
 * recursively, sorted. The entries of a directory are looked up all at once,
 * then taken in order.
 */
async function collectFiles(paths: readonly string[], issues: Issue[]): Promise<ManifestFile[]> {
  const files: ManifestFile[] = [];
  const seen = new Set<string>();
  const visit = async (path: string, explicit: boolean, found: Found): Promise<void> => {
    if ('error' in found) {
      if (explicit || (await worthReporting(path, found.error)))
        issues.push(readIssue(path, found.error));
      return;
    }
    if (seen.has(found.real)) return;
    seen.add(found.real);
    if (!found.stat.isDirectory()) {
      if (explicit || MANIFEST_EXTENSIONS.has(extname(path).toLowerCase()))
        files.push({ path, stat: found.stat });
      return;
    }
    const entries = (await readdir(path)).sort().map((name) => join(path, name));
    const all = await Promise.all(entries.map(find));
    for (const [i, entry] of entries.entries()) await visit(entry, false, all[i] as Found);
  };
  for (const p of paths) await visit(p, true, await find(p));
  return files;
}

/**
 * A directory entry that cannot be looked up: one removed or renamed since
 * the directory was read (a writer's temporary file, a deleted manifest) is
 * simply gone; a link to nowhere under a manifest's name is the user's to fix.
 */
async function worthReporting(path: string, err: unknown): Promise<boolean> {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return true;
  try {
    await lstat(path);
  } catch {
    return false;
  }
  return MANIFEST_EXTENSIONS.has(extname(path).toLowerCase());
}

function readIssue(path: string, err: unknown): Issue {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') {
    return {
      code: ErrorCodes.NOT_FOUND,
      object: path,
      field: '',
      message: 'no such file or directory',
      fix: 'check the path',
    };
  }
  return {
    code: ErrorCodes.MANIFEST_SYNTAX,
    object: path,
    field: '',
    message: `cannot be read: ${err instanceof Error ? err.message : String(err)}`,
  };
}

/** The manifest files under `paths` (files as given, directories recursively, sorted). */
export async function manifestFiles(paths: readonly string[]): Promise<string[]> {
  const issues: Issue[] = [];
  const files = await collectFiles(paths, issues);
  if (issues.length > 0) throw new WeftError(issues);
  return files.map((f) => f.path);
}

/**
 * Loads every manifest under `paths` (files, or directories read
 * recursively for .yaml, .yml and .json files) into a Cluster. Throws one
 * WeftError carrying every issue of every file, including duplicate objects
 * and pods sharing an IP address.
 */
export async function loadManifests(
  paths: readonly string[],
): Promise<{ cluster: Cluster; skipped: string[] }> {
  return new ManifestCache().load(paths);
}

function tooLarge(path: string, size: number): ManifestContents {
  const issue = limitIssue(
    path,
    `is ${sizeText(size)}; weft reads manifest files up to ${sizeText(Limits.manifestFileBytes)}`,
    'split it into several files in one directory (a directory is read whole)',
  );
  return { objects: [], issues: [issue], skipped: [] };
}

interface CachedFile {
  readonly stamp: string;
  readonly contents: ManifestContents;
}

/**
 * loadManifests that remembers each file's parse by its size, modification
 * time and inode, and the last good Cluster: reloading a directory where one
 * file changed parses that file and patches the Cluster with its objects
 * (see ClusterPatcher). The agent's source keeps one of these across reloads.
 */
export class ManifestCache {
  private files = new Map<string, CachedFile>();
  private readonly patcher = new ClusterPatcher();

  async load(paths: readonly string[]): Promise<{ cluster: Cluster; skipped: string[] }> {
    const issues: Issue[] = [];
    const files = await collectFiles(paths, issues);
    const skipped: string[] = [];
    const next = new Map<string, CachedFile>();
    for (const file of files) {
      let cached: CachedFile;
      try {
        cached = await this.read(file);
      } catch (err) {
        issues.push(readIssue(file.path, err));
        continue;
      }
      next.set(file.path, cached);
      issues.push(...cached.contents.issues);
      skipped.push(...cached.contents.skipped);
    }
    this.files = next;
    const byFile = new Map([...next].map(([file, c]) => [file, c.contents.objects]));
    const patched = issues.length === 0 ? this.patcher.patch(byFile) : undefined;
    if (patched) return { cluster: patched, skipped };
    const { cluster, issues: clusterIssues } = buildCluster([...byFile.values()].flat());
    issues.push(...clusterIssues, ...validatePodAddresses(cluster));
    if (issues.length > 0) throw new WeftError(issues);
    this.patcher.remember(byFile, cluster);
    return { cluster, skipped };
  }

  private async read({ path, stat: st }: ManifestFile): Promise<CachedFile> {
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    const hit = this.files.get(path);
    if (hit && hit.stamp === stamp) return hit;
    if (st.size > Limits.manifestFileBytes) return { stamp, contents: tooLarge(path, st.size) };
    const text = await readFile(path, 'utf8');
    if (text.length > Limits.manifestFileBytes)
      return { stamp, contents: tooLarge(path, text.length) };
    return { stamp, contents: parseManifestText(text, path) };
  }
}
