import test from 'node:test';
const WEFT = { family: 'inet', name: 'weft' } as const;
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { locateNftError, NftError, RealNft } from './runner.js';

const STDERR = `/dev/stdin:2:38-41: Error: Could not process rule: No such file or directory
add rule inet weft ep_a ip saddr @gone accept
                                 ^^^^^
`;
const SCRIPT =
  'add element inet weft pods { 10.0.0.1 }\nadd rule inet weft ep_a ip saddr @gone accept\n';

test('locateNftError: the first error and its script line', () => {
  assert.deepEqual(locateNftError(STDERR, SCRIPT), {
    line: 2,
    column: 38,
    text: 'add rule inet weft ep_a ip saddr @gone accept',
    message: 'Could not process rule: No such file or directory',
  });
  assert.equal(locateNftError('Error: No such file or directory\n', ''), undefined);
});

test('NftError names the offending line', () => {
  const e = new NftError(['-f', '-'], 1, STDERR, locateNftError(STDERR, SCRIPT));
  assert.equal(
    e.message,
    'nft -f - failed (exit 1): Could not process rule: No such file or directory at line 2: ' +
      'add rule inet weft ep_a ip saddr @gone accept',
  );
  assert.equal(e.stderr, STDERR);
});

/** A stand-in nft: records its arguments and stdin, answers as told by the environment. */
function fakeNft(t: test.TestContext, body: string): { bin: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'weft-nft-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'nft');
  writeFileSync(bin, `#!/bin/sh\necho "$@" > ${dir}/args\ncat > ${dir}/stdin\n${body}\n`);
  chmodSync(bin, 0o755);
  return { bin, dir };
}

test('RealNft.apply: the script goes to `nft -f -` on stdin', async (t) => {
  const { bin, dir } = fakeNft(t, 'exit 0');
  await new RealNft({ nft: bin, processPerTransaction: true }).applyScript(SCRIPT);
  assert.equal(readFileSync(join(dir, 'args'), 'utf8'), '-f -\n');
  assert.equal(readFileSync(join(dir, 'stdin'), 'utf8'), SCRIPT);
});

test('RealNft.apply: a refusal becomes an NftError with the line', async (t) => {
  const { bin } = fakeNft(t, `cat >&2 <<'EOF'\n${STDERR}EOF\nexit 1`);
  await assert.rejects(
    new RealNft({ nft: bin, processPerTransaction: true }).applyScript(SCRIPT),
    (e: unknown) => {
      assert.ok(e instanceof NftError);
      assert.equal(e.exitCode, 1);
      assert.equal(e.location?.line, 2);
      assert.match(e.message, /at line 2: add rule inet weft ep_a ip saddr @gone accept$/);
      return true;
    },
  );
});

test('RealNft.list: the listing, or empty when the table is absent', async (t) => {
  const present = fakeNft(t, 'echo "table inet weft {"; echo "}"');
  assert.equal(await new RealNft({ nft: present.bin }).list(WEFT), 'table inet weft {\n}\n');
  assert.equal(readFileSync(join(present.dir, 'args'), 'utf8'), 'list table inet weft\n');
  const absent = fakeNft(t, 'echo "Error: No such file or directory" >&2; exit 1');
  assert.equal(await new RealNft({ nft: absent.bin }).list(WEFT), '');
  const broken = fakeNft(t, 'echo "Error: Operation not permitted" >&2; exit 1');
  await assert.rejects(new RealNft({ nft: broken.bin }).list(WEFT), /Operation not permitted/);
});

test('RealNft: a missing binary is an NftError too', async () => {
  await assert.rejects(new RealNft({ nft: '/nonexistent/nft' }).applyScript(''), NftError);
  await assert.rejects(
    new RealNft({ nft: '/nonexistent/nft', processPerTransaction: true }).applyScript(''),
    NftError,
  );
});

/** A stand-in nft made of these shell lines, in a temp dir removed after the test. */
function scriptNft(t: test.TestContext, lines: readonly string[]): { bin: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'weft-nft-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'nft');
  writeFileSync(bin, ['#!/bin/sh', ...lines, ''].join('\n'));
  chmodSync(bin, 0o755);
  return { bin, dir };
}

test('RealNft: an nft without interactive mode gets one process per transaction', async (t) => {
  // As a build without its CLI answers `nft -i`.
  const { bin, dir } = scriptNft(t, [
    'dir=${0%/nft}',
    'if [ "$1" = "-i" ]; then',
    '  echo "$HOME" >> "$dir/sessions"',
    '  echo "Error: interactive CLI not supported in this build" >&2',
    '  exit 1',
    'fi',
    'cat > "$dir/stdin"',
  ]);
  const nft = new RealNft({ nft: bin });
  await nft.applyScript(SCRIPT);
  assert.equal(readFileSync(join(dir, 'stdin'), 'utf8'), SCRIPT);
  await nft.applyScript('add table inet weft\n');
  assert.equal(readFileSync(join(dir, 'stdin'), 'utf8'), 'add table inet weft\n');
  // Tried once, with no home for a history file.
  assert.equal(readFileSync(join(dir, 'sessions'), 'utf8'), '/dev/null\n');
});

test('RealNft: nft ending while it holds a script is an NftError saying so', async (t) => {
  // Answers the first marker as nft does, then dies on the script line.
  const { bin } = scriptNft(t, [
    'read marker',
    'printf \'Error: syntax error, unexpected newline\\n%s\\n         ^\\n\' "$marker" >&2',
    'read script',
    'exit 3',
  ]);
  await assert.rejects(new RealNft({ nft: bin }).applyScript(SCRIPT), (e: unknown) => {
    assert.ok(e instanceof NftError);
    assert.match(e.message, /exit 3.*may or may not be applied/);
    return true;
  });
});
