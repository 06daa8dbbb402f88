// A connection URL as it may be logged or printed: never its password.
export function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = 'redacted';
  return u.toString();
}
