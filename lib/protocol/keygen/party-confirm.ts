/**
 * DKG confirmation, party side (`dkg.confirm`): every party's signed `dkg.done` names the
 * same public package as this party's own, so the pending share becomes the key's active
 * share, unless another keygen's share took the key id first.
 */
import { RefusalCode, RefusedError } from '../../ports/errors.js';
import { parseBody, verifyRelayed } from '../envelope.js';
import { MessageType, type Envelope, type KeygenRequestBody } from '../messages.js';
import { writeOrAdopt, type PartyContext, type PartyView } from '../party-context.js';
import { partyKeys, type KeyShareRecord } from '../party-state.js';
import { checkKeygenRequest, sharesOf } from './party-session.js';

/** Pure step: one signed `dkg.done` from every party of the key, each for this party's public package. */
export function verifyConfirmations(
  view: PartyView,
  keygen: Pick<KeygenRequestBody, 'keyId' | 'parties'>,
  own: Pick<KeyShareRecord, 'publicPackageHash'>,
  done: readonly Envelope[],
  session: string,
): void {
  const confirmed = new Set<string>();
  for (const relayed of done) {
    const body = verifyRelayed(relayed, { type: MessageType.dkgDone, session, directory: view.directory, role: 'party' });
    if (!keygen.parties.includes(relayed.from)) throw new RefusedError(RefusalCode.unexpectedSender, `confirmation from non-party "${relayed.from}"`);
    if (body.keyId !== keygen.keyId || body.publicPackageHash !== own.publicPackageHash) {
      throw new RefusedError(RefusalCode.conflict, `party "${relayed.from}" finished with a different public package`);
    }
    confirmed.add(relayed.from);
  }
  if (confirmed.size !== keygen.parties.length) {
    throw new RefusedError(RefusalCode.incompleteTranscript, `only ${confirmed.size} of ${keygen.parties.length} parties confirmed`);
  }
}

/** Thin step: verify the confirmations, then promote the pending share (once). */
export async function onDkgConfirm(ctx: PartyContext, envelope: Envelope): Promise<void> {
  const { session } = envelope;
  const body = parseBody(envelope, MessageType.dkgConfirm);
  const keygen = checkKeygenRequest(ctx, body.request, session);
  const { active, pending, own } = await sharesOf(ctx, keygen.keyId, session);
  if (own === undefined) {
    throw new RefusedError(RefusalCode.wrongRound, `no share of key "${keygen.keyId}" from this session to confirm`);
  }
  verifyConfirmations(ctx, keygen, own, body.done, session);
  if (active?.value.session === session) return;
  const alreadyActive = () => new RefusedError(RefusalCode.conflict, `key "${keygen.keyId}" is already active from another keygen`);
  if (active !== undefined || pending === undefined) throw alreadyActive();
  const shareKey = partyKeys.keyShare(keygen.keyId);
  await writeOrAdopt(
    async () => {
      // One transaction: the share becomes active (taking the key id) exactly when its
      // pending item disappears, so an abort can no longer find it; and only if no other
      // keygen's share took the key id first.
      await ctx.tables.backend.write(
        [
          ctx.tables.keyShares.putOperation(shareKey, { ...pending.value, status: 'active' }, 1, { kind: 'absent' }),
          { op: 'delete', key: partyKeys.pendingShare(keygen.keyId, session), condition: { kind: 'version', version: pending.version } },
        ],
        ctx.nowSeconds(),
      );
      return true;
    },
    async () => {
      const winner = await ctx.tables.keyShares.get(shareKey);
      if (winner?.value.session === session) return true;
      if (winner !== undefined) throw alreadyActive();
      return undefined;
    },
  );
}
