/**
 * Key lifecycle cost on the embedded cluster (issue #11): wall time and handled messages of
 * one refresh and one reshare (one party replaced by a new one, same threshold) at 2-of-3,
 * 3-of-5 and 7-of-10, each followed by a signature checked with node:crypto under the
 * keygen's group key. Shared machines are noisy: compare the rows (and with keygen) within
 * one run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LocalCluster } from '../lib/dev/cluster.js';
import { decodeHex, utf8ToBytes } from '../lib/protocol/encoding.js';
import { verifyEd25519WithOpenSSL } from '../lib/protocol/suite.js';

export interface LifecycleRow {
  config: string;
  keygenMs: number;
  refreshMs: number;
  reshareMs: number;
  messagesPerKeygen: number;
  messagesPerRefresh: number;
  messagesPerReshare: number;
  refreshVsKeygen: number;
  reshareVsKeygen: number;
}

const SIZES: ReadonlyArray<[number, number]> = [
  [2, 3],
  [3, 5],
  [7, 10],
];

/** Runs `work`, returning its wall time and the messages the cluster handled meanwhile. */
async function measured<T>(cluster: LocalCluster, work: () => Promise<T>): Promise<[T, number, number]> {
  const before = cluster.outcomes.length;
  const started = performance.now();
  const value = await work();
  return [value, performance.now() - started, cluster.outcomes.length - before];
}

/** A signature after each step: the new shares sign under the unchanged group key. */
async function assertSigns(cluster: LocalCluster, publicKey: string, label: string): Promise<void> {
  const message = utf8ToBytes(`bench after ${label}`);
  const signed = await cluster.sign({ keyId: 'bench', message });
  if (!signed.ok || signed.signature === undefined) throw new Error(`sign after ${label} failed: ${signed.error?.message}`);
  if (!verifyEd25519WithOpenSSL(decodeHex(publicKey, 'publicKey'), message, decodeHex(signed.signature, 'signature'))) {
    throw new Error(`the signature after ${label} does not verify under the group key`);
  }
}

async function measure(threshold: number, parties: number): Promise<LifecycleRow> {
  const dataDir = await mkdtemp(join(tmpdir(), 'frostline-bench-lifecycle-'));
  // The new party of the reshare exists from the start (it is idle until then): opening adds no time to the reshare.
  const cluster = await LocalCluster.open({ dataDir, parties, partyIds: ['new1'] });
  try {
    const current = Array.from({ length: parties }, (_, i) => `p${i + 1}`);
    const [keygen, keygenMs, keygenMessages] = await measured(cluster, () => cluster.keygen({ keyId: 'bench', threshold, parties: current }));
    if (!keygen.ok || keygen.publicKey === undefined) throw new Error(`keygen failed: ${keygen.error?.message}`);
    const [refresh, refreshMs, refreshMessages] = await measured(cluster, () => cluster.refresh({ keyId: 'bench' }));
    if (!refresh.ok) throw new Error(`refresh failed: ${refresh.error?.message}`);
    await assertSigns(cluster, keygen.publicKey, 'refresh');
    const next = [...current.slice(0, -1), 'new1'];
    const [reshare, reshareMs, reshareMessages] = await measured(cluster, () => cluster.reshare({ keyId: 'bench', parties: next, threshold }));
    if (!reshare.ok) throw new Error(`reshare failed: ${reshare.error?.message}`);
    await assertSigns(cluster, keygen.publicKey, 'reshare');
    return {
      config: `${threshold}-of-${parties}`,
      keygenMs: Math.round(keygenMs),
      refreshMs: Math.round(refreshMs),
      reshareMs: Math.round(reshareMs),
      messagesPerKeygen: keygenMessages,
      messagesPerRefresh: refreshMessages,
      messagesPerReshare: reshareMessages,
      refreshVsKeygen: Number((refreshMs / keygenMs).toFixed(2)),
      reshareVsKeygen: Number((reshareMs / keygenMs).toFixed(2)),
    };
  } finally {
    await cluster.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export async function benchLifecycle(): Promise<LifecycleRow[]> {
  const rows: LifecycleRow[] = [];
  for (const [t, n] of SIZES) {
    process.stderr.write(`lifecycle: ${t}-of-${n} (keygen, refresh, reshare replacing one party; a verified signature after each)...\n`);
    rows.push(await measure(t, n));
  }
  console.table(rows);
  return rows;
}

// Run alone (`npm run bench:lifecycle`): the rows as one JSON line; `npm run bench` puts them in bench-results.json.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify({ node: process.version, platform: `${process.platform}-${process.arch}`, lifecycle: await benchLifecycle() }));
}
