// Structured JSON logs (pino). Secrets never reach a log: the redact list covers the fields that could carry them.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'rankstream'): Logger {
  return pino({
    name,
    level,
    redact: { paths: ['password', '*.password', 'apiKey', '*.apiKey', 'authorization', '*.authorization', 'req.headers.authorization'], censor: '[redacted]' },
  });
}
