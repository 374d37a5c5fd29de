/**
 * The fuzzer's seed corpus: one real 2-of-3 keygen and two real signing sessions (two rounds,
 * then one round from the nonce pools the first filled) on a local cluster, with every
 * delivered message captured together with the store of its recipient as it was just before
 * the delivery. A fuzz input is then "this node, in this state,
 * receives this (mutated) message": the handler under test is a fresh `Party` or
 * `Coordinator` over an in-memory copy of that store, with the node's real identity key.
 * Built once per run, never per input.
 */
import { createPrivateKey, sign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileKeyVault } from '../../lib/adapters/local/file-key-vault.js';
import type { KeyVault } from '../../lib/ports/key-vault.js';
import type { StoredItem } from '../../lib/ports/store.js';
import type { Directory } from '../../lib/protocol/directory.js';
import { COORDINATOR, MessageType } from '../../lib/protocol/messages.js';
import type { PartyPolicy } from '../../lib/protocol/requests.js';
import { openHarness, storeItems, type Scratch } from '../support/harness.js';

export const FUZZ_KEY_ID = 'k1';
export const FUZZ_PARTIES = ['p1', 'p2', 'p3'] as const;

/** One delivery of the real run. */
export interface Delivery {
  readonly node: string;
  readonly type: string;
  readonly session: string;
  readonly raw: string;
  /** The recipient's whole store just before this delivery. */
  readonly before: readonly StoredItem[];
  /** When it was delivered: the fuzzed handler's clock, so the captured envelopes stay fresh. */
  readonly at: number;
}

export interface Corpus {
  readonly directory: Directory;
  readonly policy: PartyPolicy;
  /** Every identity key of the run (coordinator, parties, initiator): what a malicious insider re-signs with. */
  readonly vaults: ReadonlyMap<string, FileKeyVault>;
  /**
   * The same keys, loaded once: the fuzzer re-signs tens of thousands of inputs, and a
   * FileKeyVault reads its key file on every signature. The nodes under test use `vaults`.
   */
  readonly signers: ReadonlyMap<string, Pick<KeyVault, 'signIdentity'>>;
  readonly deliveries: readonly Delivery[];
  readonly keygenSession: string;
  readonly signSession: string;
}

export async function captureCorpus(scratch: Scratch): Promise<Corpus> {
  const dir = await scratch.dir('frostline-fuzz-corpus-');
  const harness = await openHarness(dir, { parties: FUZZ_PARTIES.length });
  const { cluster, hooks } = harness;
  const deliveries: Delivery[] = [];
  try {
    hooks.wrap = async (node, body, _context, handler) => {
      const before = await storeItems(dir, node, '');
      const at = Date.now();
      await handler(body, _context);
      const envelope = JSON.parse(body) as { type: string; session: string };
      deliveries.push({ node, type: envelope.type, session: envelope.session, raw: body, before, at });
    };
    const keygen = await cluster.keygen({ keyId: FUZZ_KEY_ID, threshold: 2 });
    if (!keygen.ok) throw new Error(`corpus keygen failed: ${JSON.stringify(keygen.error)}`);
    // The first signature runs two rounds and fills every party's nonce pool (pool.refill,
    // pool.batch); the second runs one round (sign.pooled, its sign.share): both in the corpus.
    for (const text of ['fuzz corpus: pay 10 to alice', 'fuzz corpus: pay 20 to bob']) {
      const signed = await cluster.sign({ keyId: FUZZ_KEY_ID, message: new TextEncoder().encode(text) });
      if (!signed.ok) throw new Error(`corpus signing failed: ${JSON.stringify(signed.error)}`);
    }
    const types = new Set(deliveries.map((d) => d.type));
    for (const type of [MessageType.signCommit, MessageType.poolRefill, MessageType.poolBatch, MessageType.signPooled]) {
      if (!types.has(type)) throw new Error(`the corpus run delivered no ${type}`);
    }
    const refused = cluster.outcomes.filter((o) => o.outcome.status !== 'processed');
    if (refused.length > 0) throw new Error(`the corpus run refused ${refused.length} messages`);
    const keygenSession = deliveries.find((d) => d.type === 'keygen.request')?.session;
    const signSession = deliveries.find((d) => d.type === 'sign.request')?.session;
    if (keygenSession === undefined || signSession === undefined) throw new Error('the corpus run has no keygen or sign request');
    const file = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as { policy: PartyPolicy };
    // The vaults are files: open them again, independent of the cluster closed below.
    const vaults = new Map<string, FileKeyVault>();
    for (const node of [COORDINATOR, ...FUZZ_PARTIES]) vaults.set(node, await FileKeyVault.open(join(dir, node === COORDINATOR ? 'coordinator' : join('parties', node), 'vault')));
    const cliVault = join(dir, 'initiators', 'cli', 'vault');
    vaults.set('cli', await FileKeyVault.open(cliVault));
    const signers = new Map<string, Pick<KeyVault, 'signIdentity'>>();
    for (const [node, vaultDir] of [
      [COORDINATOR, join(dir, 'coordinator', 'vault')],
      ...FUZZ_PARTIES.map((p) => [p, join(dir, 'parties', p, 'vault')] as const),
      ['cli', cliVault],
    ] as const) {
      const key = createPrivateKey(await readFile(join(vaultDir, 'identity.pem')));
      const prehash = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
      signers.set(node, { signIdentity: async (message) => new Uint8Array(sign(prehash, message, key)) });
    }
    return { directory: cluster.directory, policy: file.policy, vaults, signers, deliveries, keygenSession, signSession };
  } finally {
    await cluster.close();
  }
}
