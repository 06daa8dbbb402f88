// One load per key at a time: checks that miss a cache on the same key while its load from an asynchronous store
// is under way wait for that load instead of starting their own. A load that answers at once (SQLite) is not kept.

/** The load for `key` under way, else `load()`: its value at once, or its promise, shared until it settles. */
export function loadOnce<T>(pending: Map<string, Promise<unknown>>, key: string, load: () => T | Promise<T>): T | Promise<T> {
  const waiting = pending.get(key) as Promise<T> | undefined;
  if (waiting) return waiting;
  const r = load();
  if (!(r instanceof Promise)) return r;
  const p: Promise<T> = r.finally(() => {
    if (pending.get(key) === p) pending.delete(key);
  });
  pending.set(key, p);
  return p;
}
