/**
 * How a two-round nonce is sealed at rest. Both rounds open the key share anyway (round 1
 * to hedge the nonces, RFC 9591 §4.1; round 2 to sign), so the nonce is sealed under a key
 * derived from the share's own data key (sealed-item.ts `sealDerived`): round 1 makes no
 * `GenerateDataKey` and round 2 no second `Decrypt`, one KMS call per party per round.
 * Records written before this sealing (their own data key, `SealedBlob`) still open with
 * their own `Decrypt` until they expire (nonce TTL, 15 minutes by default).
 */
import type { ItemKey } from '../../ports/store.js';
import type { PartyContext } from '../party-context.js';
import type { NonceRecord } from '../party-state.js';
import { openDerived, openSecret, sealDerived, type DerivedSealedBlob } from '../sealed-item.js';
import type { SecretScope } from '../secret-scope.js';

/** Seals hiding || binding for the nonce item `nonceKey` under the share's data key (from `openSecretAndKey`). */
export function sealNonce(shareDataKey: Uint8Array, nonceKey: ItemKey, nonces: Uint8Array, scope: SecretScope): DerivedSealedBlob {
  return sealDerived(shareDataKey, 'nonce', nonceKey, nonces, scope);
}

/**
 * Opens a stored nonce into a buffer owned by `scope`. A nonce sealed under the share's data
 * key opens only with the data key of the share it was sealed under: a share re-sealed since
 * (a refresh or reshare) or a record moved to another item fails with `decrypt-failed`.
 */
export async function openNonce(
  ctx: Pick<PartyContext, 'vault' | 'secretContext'>,
  keyId: string,
  nonceKey: ItemKey,
  sealed: NonceRecord['nonces'],
  shareDataKey: Uint8Array,
  scope: SecretScope,
): Promise<Uint8Array> {
  if ('dataKey' in sealed) return openSecret(ctx.vault, ctx.secretContext(keyId, 'nonce'), nonceKey, sealed, scope);
  return openDerived(shareDataKey, 'nonce', nonceKey, sealed, scope);
}
