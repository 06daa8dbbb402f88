// A string with memory of its own. V8 makes a slice of a long string (13 characters or more) a view of it: a view
// kept in a cache keeps the whole string it came from (a request's headers) alive with it.
export const copyOf = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');
