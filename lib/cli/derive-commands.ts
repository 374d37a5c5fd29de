/**
 * `frostline derive` and `frostline xpub`: offline, from the key's pinned attested data (the
 * suite, group key and public-package hash), the same computation each party does before it
 * signs under a path. No request is sent once the key is pinned.
 */
import { derivableOf, type PinnedKey } from '../client/key-pins.js';
import { deriveKey, derivedKeyView, exportXpub, signingDerivation, type TaprootOption } from '../protocol/derivation/key.js';
import { createOutput } from './output.js';

export function runDerive(key: PinnedKey, path: string, json: boolean, taproot?: TaprootOption): void {
  // With taproot: the child as BIP341 internal key, tweaked to the output key that `sign --taproot` signs under.
  // derivableOf: the keygen package's chain code, the same in every epoch.
  const derived = taproot === undefined ? deriveKey(derivableOf(key), path) : signingDerivation(derivableOf(key), path, taproot);
  if (derived === undefined) throw new Error('unreachable: a path always derives');
  const view = derivedKeyView(derived);
  const label = taproot === undefined ? 'public key' : 'output key';
  const tree = taproot === undefined ? '' : `\ntaproot    ${taproot.merkleRoot === undefined ? 'key path only (BIP86)' : `merkle root ${taproot.merkleRoot}`}`;
  createOutput(json).result(`key        ${key.keyId}\npath       ${view.path}${tree}\n${label} ${view.publicKey}\nchain code ${view.chainCode}`, {
    ok: true,
    keyId: key.keyId,
    suite: key.suite,
    ...view,
    ...(taproot === undefined ? {} : { taproot }),
  });
}

export function runXpub(key: PinnedKey, json: boolean): void {
  const xpub = exportXpub(derivableOf(key));
  createOutput(json).result(xpub, { ok: true, keyId: key.keyId, xpub });
}
