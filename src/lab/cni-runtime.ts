/**
 * The lab's container runtime, as far as CNI goes: it reads the conflist that
 * weft's install step wrote for the node, negotiates the version as libcni
 * does (see core/cni/runtime-view.ts), executes each plugin of the list by its
 * `type` from CNI_PATH with the CNI_* environment, passes `prevResult` along
 * the chain, caches the result for DEL, and refuses a result the runtime it
 * plays could not read.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes } from '../core/errors.js';
import { isObject, type JsonObject } from '../core/cni/json-fields.js';
import {
  negotiateVersion,
  pluginConfig,
  resultProblems,
  type RuntimeProfile,
} from '../core/cni/runtime-view.js';

/** One container's attachment to the network. */
export interface Attachment {
  readonly containerId: string;
  /** CNI_NETNS: the network namespace's path. */
  readonly netns: string;
  readonly ifname: string;
  /** CNI_ARGS pairs. */
  readonly args: Readonly<Record<string, string>>;
}

export interface LabCniRuntimeOptions {
  /** The conflist file, e.g. NODE/net.d/10-weft.conflist. */
  readonly conflist: string;
  /** CNI_PATH: where plugins are looked up by type. */
  readonly binDirs: readonly string[];
  /** Where ADD results are kept for DEL (libcni's cache). */
  readonly cacheDir: string;
  readonly profile: RuntimeProfile;
  /** The longest one plugin may take. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 90_000;

export class CniRuntimeError extends Error {
  override name = 'CniRuntimeError';
  readonly code = ErrorCodes.LAB_CNI_RUNTIME;
}

interface PluginOutcome {
  readonly code: number;
  readonly stdout: string;
}

export class LabCniRuntime {
  constructor(private readonly o: LabCniRuntimeOptions) {}

  /** ADD through every plugin in order; the last one's result, as the runtime read it. */
  async add(a: Attachment): Promise<JsonObject> {
    const { list, plugins, version } = await this.load();
    let prev: JsonObject | undefined;
    for (const plugin of plugins) {
      const out = await this.exec('ADD', a, pluginConfig(list, plugin, version, prev), plugin);
      prev = this.readResult(out, version, plugin);
    }
    const result = prev ?? { cniVersion: version };
    await mkdir(this.o.cacheDir, { recursive: true });
    await writeFile(this.cachePath(list, a), JSON.stringify({ version, result }), { mode: 0o600 });
    return result;
  }

  /** DEL through every plugin in reverse order, with the cached result as prevResult. */
  async del(a: Attachment): Promise<void> {
    const { list, plugins, version } = await this.load();
    const cached = await this.cached(list, a);
    // libcni passes prevResult on DEL from 0.4.0 on, and only a result of the same version.
    const prev =
      cached?.version === version && version !== '0.3.0' && version !== '0.3.1'
        ? cached.result
        : undefined;
    for (const plugin of [...plugins].reverse()) {
      const out = await this.exec('DEL', a, pluginConfig(list, plugin, version, prev), plugin);
      if (out.code !== 0) throw this.failure('DEL', plugin, out);
    }
    await rm(this.cachePath(list, a), { force: true });
  }

  private async load(): Promise<{ list: JsonObject; plugins: JsonObject[]; version: string }> {
    let list: unknown;
    try {
      list = JSON.parse(await readFile(this.o.conflist, 'utf8'));
    } catch (e) {
      throw new CniRuntimeError(
        `cannot read the CNI config ${this.o.conflist}: ${(e as Error).message}`,
      );
    }
    if (!isObject(list) || !Array.isArray(list['plugins']) || list['plugins'].length === 0) {
      throw new CniRuntimeError(`${this.o.conflist} is not a conflist with plugins`);
    }
    const plugins = list['plugins'].filter(isObject);
    const negotiated = negotiateVersion(list, this.o.profile);
    if ('problem' in negotiated)
      throw new CniRuntimeError(`${this.o.conflist}: ${negotiated.problem}`);
    return { list, plugins, version: negotiated.version };
  }

  private readResult(out: PluginOutcome, version: string, plugin: JsonObject): JsonObject {
    if (out.code !== 0) throw this.failure('ADD', plugin, out);
    let result: unknown;
    try {
      result = JSON.parse(out.stdout);
    } catch {
      throw new CniRuntimeError(
        `plugin type="${String(plugin['type'])}" printed no JSON result: ${out.stdout.slice(0, 200)}`,
      );
    }
    const problems = resultProblems(result, version, this.o.profile);
    if (problems.length > 0) {
      throw new CniRuntimeError(
        `plugin type="${String(plugin['type'])}" failed (add): ${problems.join('; ')}`,
      );
    }
    return result as JsonObject;
  }

  private failure(command: string, plugin: JsonObject, out: PluginOutcome): CniRuntimeError {
    let why = out.stdout.trim();
    try {
      const e = JSON.parse(out.stdout) as { code?: number; msg?: string; details?: string };
      why = `error ${e.code}: ${e.msg ?? ''}${e.details ? ` (${e.details})` : ''}`;
    } catch {
      // not JSON: shown as printed
    }
    return new CniRuntimeError(
      `plugin type="${String(plugin['type'])}" failed (${command.toLowerCase()}): ${why || `exit ${out.code}`}`,
    );
  }

  private cachePath(list: JsonObject, a: Attachment): string {
    return join(this.o.cacheDir, `${String(list['name'])}-${a.containerId}-${a.ifname}`);
  }

  private async cached(
    list: JsonObject,
    a: Attachment,
  ): Promise<{ version: string; result: JsonObject } | undefined> {
    try {
      const c = JSON.parse(await readFile(this.cachePath(list, a), 'utf8')) as unknown;
      if (isObject(c) && typeof c['version'] === 'string' && isObject(c['result']))
        return { version: c['version'], result: c['result'] };
    } catch {
      // no cache: DEL goes on without prevResult, as libcni's does
    }
    return undefined;
  }

  private async binary(type: string): Promise<string> {
    for (const dir of this.o.binDirs) {
      const path = join(dir, type);
      try {
        await access(path, constants.X_OK);
        return path;
      } catch {
        // not in this directory
      }
    }
    throw new CniRuntimeError(
      `failed to find plugin "${type}" in path [${this.o.binDirs.join(' ')}]`,
    );
  }

  private async exec(
    command: string,
    a: Attachment,
    config: JsonObject,
    plugin: JsonObject,
  ): Promise<PluginOutcome> {
    const bin = await this.binary(String(plugin['type']));
    const env = {
      PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: a.containerId,
      CNI_NETNS: a.netns,
      CNI_IFNAME: a.ifname,
      CNI_ARGS: Object.entries(a.args)
        .map(([k, v]) => `${k}=${v}`)
        .join(';'),
      CNI_PATH: this.o.binDirs.join(':'),
    };
    const ms = this.o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const child = spawn(bin, [], { env, stdio: ['pipe', 'pipe', 'inherit'] });
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new CniRuntimeError(`cannot execute ${bin}: ${e.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (signal === 'SIGKILL')
          reject(new CniRuntimeError(`${bin} ${command} took longer than ${ms} ms`));
        else resolve({ code: code ?? -1, stdout });
      });
      child.stdin.end(JSON.stringify(config));
    });
  }
}
