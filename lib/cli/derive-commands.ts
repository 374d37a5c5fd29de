/**
 * `frostline derive` and `frostline xpub`: offline, from the key's pinned attested data (the
 * suite, group key and public-package hash), the same computation each party does before it
 * signs under a path. No request is sent once the key is pinned.
 */
import type { PinnedKey } from '../client/key-pins.js';
import { deriveKey, derivedKeyView, exportXpub } from '../protocol/derivation/key.js';
import { createOutput } from './output.js';

export function runDerive(key: PinnedKey, path: string, json: boolean): void {
  const view = derivedKeyView(deriveKey(key, path));
  createOutput(json).result(`key        ${key.keyId}\npath       ${view.path}\npublic key ${view.publicKey}\nchain code ${view.chainCode}`, {
    ok: true,
    keyId: key.keyId,
    suite: key.suite,
    ...view,
  });
}

export function runXpub(key: PinnedKey, json: boolean): void {
  const xpub = exportXpub(key);
  createOutput(json).result(xpub, { ok: true, keyId: key.keyId, xpub });
}
