/**
 * The scanned process of test/e2e/memory-scan.test.ts (bundled by esbuild, run with
 * `node --expose-gc`): a whole local cluster — keygen, then signing rounds — in one
 * process, as a warm Lambda container would see them one after another. It never reads a
 * share itself; the test decrypts them from the stores afterwards, in its own process.
 *
 * Positive controls, kept alive on purpose so the scanner must find them: a random 32-byte
 * Uint8Array (must be reported as a plain copy) and a random 4-digit bigint (must be
 * reported as bigint digits).
 *
 * Protocol: once the work is done it prints a JSON line `{ "ready": "idle", ... }` and
 * waits; each `gc` line on stdin makes it collect garbage and print `{ "ready": "collected" }`.
 * It exits when stdin closes.
 */
import { getRandomValues } from 'node:crypto';
import { createInterface } from 'node:readline';
import { LocalCluster } from '../../lib/dev/cluster.js';

const [dataDir, keyId = 'k1', rounds = '3'] = process.argv.slice(2);
if (dataDir === undefined) throw new Error('usage: memory-scan-child <dataDir> [keyId] [rounds]');

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

// A 32-byte value whose top byte is non-zero, so that its bigint has exactly 4 digits.
function randomScalarBytes(): Uint8Array {
  const bytes = getRandomValues(new Uint8Array(32));
  bytes[31] = (bytes[31] ?? 0) | 0x01;
  return bytes;
}

const leaked = randomScalarBytes();
const bigintSource = randomScalarBytes();
const leakedBigint = BigInt(`0x${hex(Uint8Array.from(bigintSource).reverse())}`);
const controls = { leaked: hex(leaked), bigint: hex(bigintSource) };
bigintSource.fill(0);
(globalThis as Record<string, unknown>).memoryScanControls = { leaked, leakedBigint };

const started = Date.now();
const cluster = await LocalCluster.open({ dataDir, parties: 3 });
const keygen = await cluster.keygen({ keyId, threshold: 2 });
if (!keygen.ok) throw new Error(`keygen failed: ${JSON.stringify(keygen.error)}`);
const signers = new Set<string>();
for (let i = 0; i < Number(rounds); i++) {
  // The last round signs under a child key: its tweaked shares are secrets too (memory-scan.test.ts).
  const path = i === Number(rounds) - 1 ? { path: 'm/0/7' } : {};
  const signed = await cluster.sign({ keyId, message: new TextEncoder().encode(`memory scan ${i}`), ...path });
  if (!signed.ok) throw new Error(`signing failed: ${JSON.stringify(signed.error)}`);
  for (const party of signed.signers ?? []) signers.add(party);
}
await cluster.close();

const report = (phase: 'idle' | 'collected') =>
  process.stdout.write(
    `${JSON.stringify({ ready: phase, pid: process.pid, controls, signers: [...signers].sort(), ms: Date.now() - started })}\n`,
  );

// First as a warm Lambda container sits between invocations: nothing collected on purpose.
report('idle');
const input = createInterface({ input: process.stdin });
for await (const line of input) {
  if (line !== 'gc') continue;
  // Then after full collections, letting finalizers and weak callbacks run in between.
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  report('collected');
}
process.exit(0);
