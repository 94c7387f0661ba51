import { asVigilError } from '../errors.js';
import { log } from '../log.js';
import type { CameraRecord, Store } from '../store/index.js';

/**
 * The cameras of a fleet on a shared store, for the placement's every tick (see the
 * coordinator's `cameras`): the store's, each read handed to `onRead` (what other nodes added,
 * changed or removed). Only the first list is waited for; later ticks take the last one while
 * the next is read, so a slow or unreachable PostgreSQL never delays a lease renewal (a read
 * that fails is logged, and the last list stands).
 */
export function storedCameraIds(store: Store, onRead: (records: readonly CameraRecord[]) => void): () => Promise<readonly string[]> {
  let listed: readonly string[] | undefined;
  let reading: Promise<void> | undefined;
  return async () => {
    const next = (reading ??= store.cameras
      .list()
      .then((records) => {
        onRead(records);
        listed = records.map((c) => c.id);
      })
      .finally(() => (reading = undefined)));
    if (listed === undefined) {
      await next;
      return listed ?? [];
    }
    next.catch((e: unknown) => log.warn(`fleet: cannot read the cameras from the store: ${asVigilError(e).message}`));
    return listed;
  };
}
