/**
 * Keygen and signing latency per suite (issue #12) on the embedded cluster, at 2-of-3 and
 * 3-of-5: Ed25519 (our validated-point cache), secp256k1-tr and Ed448 (noble's stock
 * suites). Shared machines are noisy: compare suites within one run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sha256 } from '@noble/hashes/sha2.js';
import { LocalCluster } from '../lib/dev/cluster.js';
import { percentile } from '../lib/dev/percentile.js';
import { utf8ToBytes } from '../lib/protocol/encoding.js';
import { SUITE_NAMES, suiteFor } from '../lib/protocol/suites.js';

export interface SuiteRow {
  suite: string;
  config: string;
  keygenMs: number;
  signMedianMs: number;
  publicKeyBytes: number;
  signatureBytes: number;
}

const SIZES: ReadonlyArray<[number, number]> = [
  [2, 3],
  [3, 5],
];
const SIGNATURES = Number(process.env.FROSTLINE_BENCH_SUITE_SIGNATURES ?? 3);

async function measure(suiteName: string, threshold: number, parties: number): Promise<SuiteRow> {
  const suite = suiteFor(suiteName);
  const dataDir = await mkdtemp(join(tmpdir(), 'frostline-bench-suites-'));
  const cluster = await LocalCluster.open({ dataDir, parties });
  try {
    let started = performance.now();
    const keygen = await cluster.keygen({ keyId: 'bench', threshold, suite: suite.name });
    const keygenMs = performance.now() - started;
    if (!keygen.ok) throw new Error(`${suite.name} keygen failed: ${keygen.error?.message}`);
    const times: number[] = [];
    for (let i = 0; i < SIGNATURES; i++) {
      const text = utf8ToBytes(`bench message ${i}`);
      // A BIP340 key signs a 32-byte digest; the others sign the message itself.
      const message = suite.messageBytes === undefined ? text : sha256(text);
      started = performance.now();
      const signed = await cluster.sign({ keyId: 'bench', message });
      times.push(performance.now() - started);
      if (!signed.ok) throw new Error(`${suite.name} sign failed: ${signed.error?.message}`);
    }
    times.sort((a, b) => a - b);
    return {
      suite: suite.name,
      config: `${threshold}-of-${parties}`,
      keygenMs: Math.round(keygenMs),
      signMedianMs: Math.round(percentile(times, 0.5)),
      publicKeyBytes: suite.sizes.publicKey,
      signatureBytes: suite.sizes.signature,
    };
  } finally {
    await cluster.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export async function benchSuites(): Promise<SuiteRow[]> {
  const rows: SuiteRow[] = [];
  for (const name of SUITE_NAMES) {
    for (const [t, n] of SIZES) {
      process.stderr.write(`suites: ${name} ${t}-of-${n} (keygen + ${SIGNATURES} signatures)...\n`);
      rows.push(await measure(name, t, n));
    }
  }
  console.table(rows);
  return rows;
}

// Run alone (`npm run bench:suites`): the rows as one JSON line; `npm run bench` puts them in bench-results.json.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify({ node: process.version, platform: `${process.platform}-${process.arch}`, suites: await benchSuites() }));
}
