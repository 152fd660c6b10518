// Option parsers shared by the command-line tools: each rejects bad input with a message naming the option.
import { InvalidArgumentError } from 'commander';
import { tenantId } from '../core/events.ts';

export function tenantOption(value: string): string {
  const t = tenantId.safeParse(value);
  if (!t.success) throw new InvalidArgumentError(t.error.issues[0]?.message ?? 'invalid tenant');
  return t.data;
}

export function isoTimeOption(value: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`not an ISO date: ${value}`);
  return ms;
}
