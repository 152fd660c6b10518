// Structured JSON logs (pino). Secrets never reach a log: the redact list covers the fields that could carry them.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Fields that may carry a secret, wherever they sit (API keys arrive in `authorization` or `x-api-key` headers). */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'apiKey',
  '*.apiKey',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers["x-api-key"]',
  'headers["x-api-key"]',
  '*.headers["x-api-key"]',
  '["x-api-key"]',
  '*["x-api-key"]',
];

/** JSON logs on stdout, or on `destination` (tests capture them). */
export function createLogger(level: string, name = 'rankstream', destination?: DestinationStream): Logger {
  const options = { name, level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
