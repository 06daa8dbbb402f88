// One load per key at a time: checks that miss a cache on the same key while its load from an asynchronous store
// is under way wait for that load instead of starting their own.

/** The load for `key` under way, or a new one, forgotten once it settles. */
export function shared<T>(pending: Map<string, Promise<unknown>>, key: string, load: () => Promise<T>): Promise<T> {
  let p = pending.get(key) as Promise<T> | undefined;
  if (!p) {
    p = load().finally(() => {
      if (pending.get(key) === p) pending.delete(key);
    });
    pending.set(key, p);
  }
  return p;
}
