// Option parsers shared by the command-line tools: each rejects bad input with a message naming the option.
import { InvalidArgumentError } from 'commander';
import { tenantId } from '../core/events.ts';
import type { LedgerSlice } from '../state/ledger.ts';

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

/** The ledger slice named by --tenant/--since/--until. */
export function ledgerSliceOptions(o: { tenant: string; since?: number; until?: number }): LedgerSlice {
  return {
    tenant: o.tenant,
    ...(o.since !== undefined ? { sinceMs: o.since } : {}),
    ...(o.until !== undefined ? { untilMs: o.until } : {}),
  };
}
