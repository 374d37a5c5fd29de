/**
 * The coordinator's key records, as `frostline keys` lists them. The `key#<id>` partition
 * also holds other items of a key (a refresh or reshare's lock, sort key `reshare`), which
 * are not key records: only the `public` item is read, so a key that was ever reshared is
 * listed like any other.
 */
import { isExpired, type ItemBackend } from '../ports/store.js';
import { StoredStateError } from '../ports/errors.js';
import { coordinatorKeys, KeyRecord } from '../protocol/coordinator-state.js';

export async function listKeyRecords(store: ItemBackend, nowSeconds: number): Promise<KeyRecord[]> {
  const recordSort = coordinatorKeys.key('-').sk;
  const items = await store.scanPrefix('key#');
  return items
    .filter((item) => item.sk === recordSort && !isExpired(item, nowSeconds))
    .map((item) => {
      const parsed = KeyRecord.safeParse(item.data);
      if (!parsed.success) throw new StoredStateError(`stored key record ${item.pk} is not valid`);
      return parsed.data;
    })
    .sort((a, b) => a.createdAt - b.createdAt);
}
