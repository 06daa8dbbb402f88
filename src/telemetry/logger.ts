// Structured JSON logs (pino) on stderr. Credentials are redacted wherever they might appear.
import pino from 'pino';

export type Logger = pino.Logger;

export const REDACT_PATHS = [
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  'headers["x-federation-token"]',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["x-api-key"]',
  '*.headers["x-federation-token"]',
  'token',
  'key',
  'secret',
];

export function createLogger(level: string, destination: pino.DestinationStream = pino.destination(2)): Logger {
  return pino({ level, base: { service: 'tenantgate' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
