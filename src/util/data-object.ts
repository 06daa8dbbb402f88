// An object whose keys come from data (a request's headers or query, a policy's values): without a prototype, so
// that "__proto__", "constructor" or "toString" is a key like any other, never Object.prototype's member.
export const dataObject = <V>(): Record<string, V> => Object.create(null) as Record<string, V>;
