/**
 * `frostline refresh|reshare|repair` on the local cluster (README "Key lifecycle"): new
 * shares for the same key, a new party set or threshold, or a lost share restored, the
 * group key unchanged. A party name the local cluster lacks becomes a new local party: its
 * own vault and identity key, pinned in cluster.json and so in every party's and the
 * coordinator's directory. The result is accepted only as every new party attested it
 * (lifecycleKeyOf) and pinned as the key's new epoch. The deployment variants are in
 * deployment-commands.ts.
 */
import { join } from 'node:path';
import { LocalCluster, readPinnedDirectory } from '../dev/cluster.js';
import { FrostlineError } from '../ports/errors.js';
import { deriveSessionId } from '../protocol/envelope.js';
import { MessageType, type ReshareResultBody } from '../protocol/messages.js';
import { FileKeyPins, epochOf, pinOf, type PinnedKey } from '../client/key-pins.js';
import { attestedKeyOf, lifecycleKeyOf } from '../client/result-checks.js';
import { withDataDir } from './data-dir.js';
import { DkgProgress, LIFECYCLE_ROUNDS } from './dkg-progress.js';
import { createOutput, timed, type Output } from './output.js';
import type { ApprovedLifecycle } from '../protocol/approvals.js';

/** What the command line asks for, before it is checked against the key's current epoch. */
export type LifecycleAsk =
  | { readonly mode: 'refresh' }
  | { readonly mode: 'reshare'; readonly parties: readonly string[]; readonly threshold: number; readonly dealers?: readonly string[] | undefined }
  | { readonly mode: 'repair'; readonly party: string };

/** A request the parties can act on: the new set and threshold, and who deals. */
export interface LifecyclePlan {
  readonly mode: 'refresh' | 'reshare';
  readonly parties: readonly string[];
  readonly threshold: number;
  readonly dealers: readonly string[];
  /** What to send as `dealers` (absent: the default, every current party). */
  readonly requestedDealers?: readonly string[];
  /** One line for the progress log. */
  readonly summary: string;
}

const sorted = (ids: readonly string[]) => [...ids].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
const usage = (message: string) => new FrostlineError('usage', message);

/**
 * Turns what was asked into a plan against the key's current (attested) epoch, refusing in
 * one line what the parties would refuse anyway: dealers that are not current parties, too
 * few dealers, a threshold above the party count, a repair of a party the key lacks.
 */
export function planLifecycle(ask: LifecycleAsk, current: Pick<PinnedKey, 'keyId' | 'parties' | 'threshold'>): LifecyclePlan {
  const key = current.keyId;
  if (ask.mode === 'refresh') {
    return { mode: 'refresh', parties: sorted(current.parties), threshold: current.threshold, dealers: sorted(current.parties), summary: `refreshing key "${key}": new shares for ${current.threshold}-of-${current.parties.length} (${sorted(current.parties).join(', ')})` };
  }
  if (ask.mode === 'repair') {
    if (!current.parties.includes(ask.party)) throw usage(`--party ${ask.party}: key "${key}" has no share there (its parties: ${sorted(current.parties).join(', ')})`);
    const dealers = sorted(current.parties.filter((p) => p !== ask.party));
    if (dealers.length < current.threshold) throw usage(`--party ${ask.party}: only ${dealers.length} other parties remain to deal, key "${key}" needs ${current.threshold}`);
    return {
      mode: 'reshare',
      parties: sorted(current.parties),
      threshold: current.threshold,
      dealers,
      requestedDealers: dealers,
      summary: `repairing ${ask.party}'s share of key "${key}": ${dealers.join(', ')} deal to ${sorted(current.parties).join(', ')}`,
    };
  }
  if (ask.threshold > ask.parties.length) throw usage(`--threshold ${ask.threshold} is larger than the ${ask.parties.length} --parties`);
  const dealers = sorted(ask.dealers ?? current.parties);
  const strangers = dealers.filter((d) => !current.parties.includes(d));
  if (strangers.length > 0) throw usage(`--dealers ${strangers.join(',')}: not a current party of key "${key}" (its parties: ${sorted(current.parties).join(', ')})`);
  if (dealers.length < current.threshold) throw usage(`--dealers ${dealers.join(',')}: key "${key}" needs at least ${current.threshold} dealers (its threshold)`);
  return {
    mode: 'reshare',
    parties: sorted(ask.parties),
    threshold: ask.threshold,
    dealers,
    ...(ask.dealers !== undefined ? { requestedDealers: dealers } : {}),
    summary: `resharing key "${key}": ${current.threshold}-of-${current.parties.length} → ${ask.threshold}-of-${ask.parties.length} (${sorted(ask.parties).join(', ')}), dealt by ${dealers.join(', ')}`,
  };
}

/**
 * What approvers of this request sign (`signLifecycleApproval`): the operation, and for a
 * reshare the threshold, party set and dealers exactly as the request carries them (the
 * initiator sends the lists in plain sort order).
 */
export function approvedLifecycle(plan: LifecyclePlan, request: { initiator: string; requestId: string; keyId: string; epoch: number }): ApprovedLifecycle {
  if (plan.mode === 'refresh') return { ...request, operation: 'refresh' };
  return {
    ...request,
    operation: 'reshare',
    threshold: plan.threshold,
    parties: [...plan.parties].sort(),
    ...(plan.requestedDealers !== undefined ? { dealers: [...plan.requestedDealers].sort() } : {}),
  };
}

/** The --json (and human) result of a lifecycle command. */
export function printLifecycle(out: Output, result: { requestId: string; keyId: string; epoch: number; publicKey: string; threshold: number; parties: readonly string[]; duplicate: boolean }, ms: number, extra: Record<string, unknown> = {}): void {
  out.result(
    `key ${result.keyId}  epoch ${result.epoch}  ${result.threshold}-of-${result.parties.length} (${result.parties.join(', ')})  ${result.publicKey}${result.duplicate ? '  (repeated request: first result)' : ''}  ${ms} ms`,
    { ok: true, requestId: result.requestId, keyId: result.keyId, epoch: result.epoch, publicKey: result.publicKey, threshold: result.threshold, parties: [...result.parties], duplicate: result.duplicate, ...extra },
  );
}

function assertOk(result: ReshareResultBody, what: string): void {
  if (result.ok) return;
  const blame = result.error?.blame?.length ? ` (blame: ${result.error.blame.join(', ')})` : '';
  throw new FrostlineError(result.error?.code ?? 'failed', `${what} failed: ${result.error?.message ?? 'unknown error'}${blame}`);
}

export interface LocalLifecycleOptions {
  readonly dataDir: string;
  readonly keyId: string;
  readonly ask: LifecycleAsk;
  readonly requestId?: string;
  readonly json: boolean;
}

/** The key's current epoch as its parties attested it, pinned (a later epoch than the pin replaces it). */
async function currentEpoch(dataDir: string, keyId: string, pins: FileKeyPins): Promise<PinnedKey> {
  const cluster = await LocalCluster.open({ dataDir });
  try {
    const record = await cluster.coordinator.getKey(keyId);
    if (record === undefined) throw new FrostlineError('unknown-key', `no key "${keyId}"`);
    const current = pinOf(attestedKeyOf({ ...record, requestId: '-', ok: true }, cluster.directory.parties, { keyId }, '-'));
    await pins.pin(current);
    return current;
  } finally {
    await cluster.close();
  }
}

/** `frostline refresh|reshare|repair` on the local cluster in the data directory. */
export async function runLocalLifecycle(options: LocalLifecycleOptions): Promise<void> {
  const out = createOutput(options.json);
  await withDataDir(options.dataDir, { create: false, command: `frostline ${options.ask.mode} --key ${options.keyId}`, log: out.step }, async (dataDir) => {
    const known = Object.keys((await readPinnedDirectory(dataDir))?.parties ?? {});
    const newParties = options.ask.mode === 'reshare' ? sorted(options.ask.parties.filter((p) => !known.includes(p))) : [];
    const pins = new FileKeyPins(join(dataDir, 'pinned-keys.json'));
    // Checked against the current epoch first, so a bad request creates no party.
    const current = await currentEpoch(dataDir, options.keyId, pins);
    const plan = planLifecycle(options.ask, current);
    const progress = new DkgProgress(out.step, LIFECYCLE_ROUNDS);
    const cluster = await LocalCluster.open({ dataDir, partyIds: newParties, wrapHandler: progress.wrapHandler });
    try {
      for (const party of newParties) out.step(`new local party ${party}: identity key in ${join(dataDir, 'parties', party, 'vault')}, pinned in every party's and the coordinator's directory`);
      out.step(`${plan.summary} (epoch ${epochOf(current)} → ${epochOf(current) + 1})`);
      const everyone = sorted([...new Set([...current.parties, ...plan.parties])]);
      progress.start(cluster.outcomes, everyone, { [MessageType.reshareDeal]: plan.dealers, [MessageType.reshareShares]: plan.parties });
      const common = { keyId: options.keyId, epoch: epochOf(current), ...(options.requestId !== undefined ? { requestId: options.requestId } : {}) };
      let result: ReshareResultBody;
      let ms: number;
      try {
        [result, ms] = await timed(() =>
          plan.mode === 'refresh'
            ? cluster.refresh(common)
            : cluster.reshare({ ...common, parties: plan.parties, threshold: plan.threshold, ...(plan.requestedDealers !== undefined ? { dealers: plan.requestedDealers } : {}) }),
        );
      } finally {
        progress.stop();
      }
      for (const u of cluster.unhealthy()) out.step(`warning: party ${u.party} failed: ${u.reason}`);
      assertOk(result, options.ask.mode);
      const key = lifecycleKeyOf(
        result,
        cluster.directory.parties,
        current,
        { keyId: options.keyId, ...(plan.mode === 'reshare' ? { parties: plan.parties, threshold: plan.threshold } : {}), session: deriveSessionId(cluster.initiator.id, result.requestId) },
        result.requestId,
      );
      const pin = pinOf(key);
      await pins.pin(pin);
      printLifecycle(out, { requestId: result.requestId, keyId: pin.keyId, epoch: epochOf(pin), publicKey: pin.publicKey, threshold: pin.threshold, parties: pin.parties, duplicate: result.duplicate }, ms, newParties.length > 0 ? { newParties } : {});
    } finally {
      await cluster.close();
    }
  });
}
