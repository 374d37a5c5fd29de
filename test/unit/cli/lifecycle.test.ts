/**
 * `frostline refresh|reshare|repair` on the local cluster: each moves key k1 to a new epoch
 * with the same group key, and after each a signature from the new shares verifies with
 * node:crypto under the key keygen printed. A reshare to a party name the cluster lacks
 * creates that party (pinned in cluster.json, so in every directory). Bad input is one
 * usage line, and creates nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvedLifecycle, planLifecycle, type LifecycleAsk } from '../../../lib/cli/lifecycle-commands.js';
import { Initiator } from '../../../lib/client/initiator.js';
import { LocalKeySigner } from '../../../lib/client/signers.js';
import { lifecycleApprovalInput, type ApprovedLifecycle } from '../../../lib/protocol/approvals.js';
import { MessageType, type Envelope, type RefreshRequestBody, type ReshareRequestBody } from '../../../lib/protocol/messages.js';
import { generateKeyPairSync } from 'node:crypto';
import { runCliInProcess } from '../../support/cli.js';
import { verifyWithNodeCrypto } from '../../support/ed25519.js';

let dataDir: string;
let groupKey: string;
const json = (text: string) => JSON.parse(text) as Record<string, unknown>;
const cli = async (...args: string[]) => json(await runCliInProcess([...args, '--data-dir', dataDir, '--json']));

/** Signs `text` with k1 and checks the signature with node:crypto under the keygen's group key. */
async function signsUnderGroupKey(text: string): Promise<void> {
  const signed = await cli('sign', '--key', 'k1', '--message', text);
  expect(signed).toMatchObject({ ok: true, publicKey: groupKey });
  expect(verifyWithNodeCrypto(groupKey, new TextEncoder().encode(text), String(signed.signature))).toBe(true);
}

const clusterParties = () => Object.keys((JSON.parse(readFileSync(join(dataDir, 'cluster.json'), 'utf8')) as { parties: Record<string, unknown> }).parties).sort();

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'frostline-cli-lifecycle-'));
  groupKey = String((await cli('keygen', '--key-id', 'k1')).publicKey);
});
afterAll(async () => {
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

describe('bad input: one usage line, nothing created', () => {
  it.each([
    [['reshare', '--key', 'k1', '--parties', 'p1,p2', '--threshold', '3'], /^--threshold 3 is larger than --parties 2$/],
    [['reshare', '--key', 'k1', '--parties', 'p1,p1,p2', '--threshold', '2'], /names repeat/],
    [['reshare', '--key', 'k1', '--parties', 'p1,p2,p7', '--threshold', '2', '--dealers', 'p1,p7'], /^--dealers p7: not a current party of key "k1" \(its parties: p1, p2, p3\)$/],
    [['reshare', '--key', 'k1', '--parties', 'p1,p2,p7', '--threshold', '2', '--dealers', 'p1'], /^--dealers p1: key "k1" needs at least 2 dealers \(its threshold\)$/],
    [['repair', '--key', 'k1', '--party', 'p9'], /^--party p9: key "k1" has no share there \(its parties: p1, p2, p3\)$/],
    [['reshare', '--key', 'k1', '--parties', 'p1,Bad', '--threshold', '2'], /expected a-z, 0-9/],
    [['refresh', '--key', 'k1', '--approvers', 'alice'], /^--approvers needs --deployment FILE$/],
  ])('%j', async (args, message) => {
    await expect(runCliInProcess([...args, '--data-dir', dataDir])).rejects.toThrow(message);
    expect(existsSync(join(dataDir, 'parties', 'p7'))).toBe(false);
    expect(clusterParties()).toEqual(['p1', 'p2', 'p3']);
  });

  it('an unknown key is refused by name', async () => {
    await expect(runCliInProcess(['refresh', '--key', 'nope', '--data-dir', dataDir])).rejects.toThrow(/no key "nope"/);
  });
});

describe('refresh, reshare to a new party, repair: same group key, signatures verify', () => {
  it('refresh: epoch 1, same set and threshold', async () => {
    expect(await cli('refresh', '--key', 'k1')).toMatchObject({ ok: true, keyId: 'k1', epoch: 1, publicKey: groupKey, threshold: 2, parties: ['p1', 'p2', 'p3'] });
    await signsUnderGroupKey('after refresh');
  });

  it('reshare to p1,p2,p4 (p4 new): p4 created and pinned, p3 out, 2-of-3 at epoch 2', async () => {
    const result = await cli('reshare', '--key', 'k1', '--parties', 'p1,p2,p4', '--threshold', '2');
    expect(result).toMatchObject({ ok: true, epoch: 2, publicKey: groupKey, threshold: 2, parties: ['p1', 'p2', 'p4'], newParties: ['p4'] });
    expect(clusterParties()).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(await cli('key', '--key', 'k1')).toMatchObject({ parties: ['p1', 'p2', 'p4'], threshold: 2, publicKey: groupKey, epoch: 2 });
    await signsUnderGroupKey('after reshare');
    expect(await cli('keys')).toMatchObject({ keys: [{ keyId: 'k1', epoch: 2, parties: ['p1', 'p2', 'p4'] }] });
  });

  it('repair p2: every other party deals, epoch 3, signing goes on', async () => {
    expect(await cli('repair', '--key', 'k1', '--party', 'p2')).toMatchObject({ ok: true, epoch: 3, parties: ['p1', 'p2', 'p4'], threshold: 2, publicKey: groupKey });
    await signsUnderGroupKey('after repair');
  });
});

describe('--approvers: what approvers sign is what the parties check', () => {
  // The parties rebuild the approved request from the request body (lib/protocol/reshare/party-session.ts).
  const partySide = (request: Envelope): ApprovedLifecycle => {
    if (request.type === MessageType.refreshRequest) {
      const body = request.body as RefreshRequestBody;
      return { initiator: request.from, requestId: body.requestId, keyId: body.keyId, epoch: body.epoch, operation: 'refresh' };
    }
    const body = request.body as ReshareRequestBody;
    return { initiator: request.from, requestId: body.requestId, keyId: body.keyId, epoch: body.epoch, operation: 'reshare', threshold: body.threshold, parties: body.parties, dealers: body.dealers };
  };
  const current = { keyId: 'k', parties: ['p1', 'p2', 'p10'], threshold: 2 };
  it.each<[string, LifecycleAsk]>([
    ['refresh', { mode: 'refresh' }],
    ['reshare (p10 sorts before p2 on the wire)', { mode: 'reshare', parties: ['p10', 'p2', 'p3'], threshold: 2, dealers: ['p10', 'p2'] }],
    ['reshare with default dealers', { mode: 'reshare', parties: ['p1', 'p2', 'p10', 'p3'], threshold: 3 }],
    ['repair', { mode: 'repair', party: 'p2' }],
  ])('%s', async (_name, ask) => {
    const plan = planLifecycle(ask, current);
    const sent: string[] = [];
    const signer = new LocalKeySigner(generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
    const initiator = new Initiator({
      id: 'ops',
      vault: signer,
      transport: { send: async (_destination, body) => void sent.push(body) },
      clock: { now: () => Date.now() },
      directory: { coordinator: await signer.identityPublicKey(), parties: {}, initiators: {} },
    });
    await initiator.requestLifecycle({
      keyId: 'k',
      requestId: 'r1',
      epoch: 3,
      ...(plan.mode === 'reshare' ? { parties: plan.parties, threshold: plan.threshold, ...(plan.requestedDealers !== undefined ? { dealers: plan.requestedDealers } : {}) } : {}),
    });
    const request = JSON.parse(sent[0] ?? '{}') as Envelope;
    const approved = approvedLifecycle(plan, { initiator: 'ops', requestId: 'r1', keyId: 'k', epoch: 3 });
    expect(Buffer.from(lifecycleApprovalInput(approved)).equals(Buffer.from(lifecycleApprovalInput(partySide(request))))).toBe(true);
  });
});
