/**
 * Key lookup, coordinator side: a `key.request` is answered from the key registry. Nothing
 * is stored, so repeats are harmless. The answer is the coordinator's word except for the
 * attestations, the parties' signed `dkg.done`, which the SDK verifies against pinned keys.
 */
import { RefusalCode } from '../../ports/errors.js';
import type { KeyRecord } from '../coordinator-state.js';
import { toInitiator, type Outgoing } from '../coordinator-outbox.js';
import { MessageType, type BodyOf, type Envelope } from '../messages.js';

export function keyResult(request: Envelope, body: BodyOf<typeof MessageType.keyRequest>, key: KeyRecord | undefined): Outgoing {
  const fields = { requestId: body.requestId, keyId: body.keyId };
  if (key === undefined) {
    return toInitiator(request, MessageType.keyResult, { ...fields, ok: false, error: { code: RefusalCode.unknownKey, message: `no key "${body.keyId}"` } });
  }
  return toInitiator(request, MessageType.keyResult, {
    ...fields,
    ok: true,
    publicKey: key.publicKey,
    threshold: key.threshold,
    parties: key.parties,
    attestations: key.attestations,
  });
}
