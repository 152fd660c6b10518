// Reads the Taobao UserBehavior log (user_id,item_id,category_id,behavior,unix_ts; no header) as interaction events:
// pv = click, cart/fav = engagement, buy = conversion. Malformed lines (the published file ends in a truncated one)
// are reported, never sent.
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { validateEvent, type InteractionEvent } from '../core/events.ts';

export type ParsedLine =
  { ok: true; line: number; event: InteractionEvent } | { ok: false; line: number; reason: string };

/** Parses one line; eventId is stable (<file>:<line>) so a replay of the same file is deduplicated by the ledger. */
export function parseTaobaoLine(text: string, lineNo: number, source: string, tenant: string): ParsedLine {
  const parts = text.trim().split(',');
  if (parts.length !== 5)
    return { ok: false, line: lineNo, reason: `expected 5 comma-separated fields, got ${parts.length}` };
  const [user, item, category, behavior, ts] = parts as [string, string, string, string, string];
  if (!/^\d{9,11}$/.test(ts))
    return { ok: false, line: lineNo, reason: `unix_ts ${JSON.stringify(ts)} is not a plausible epoch-seconds value` };
  const base = {
    eventId: `${source}:${lineNo}`,
    tenant,
    userId: user,
    itemId: item,
    timestamp: Number(ts) * 1000,
    context: { category },
  };
  let candidate: InteractionEvent;
  switch (behavior) {
    case 'pv':
      candidate = { ...base, type: 'click', recommendationId: null };
      break;
    case 'cart':
    case 'fav':
      candidate = { ...base, type: 'engagement', action: behavior, recommendationId: null };
      break;
    case 'buy':
      candidate = { ...base, type: 'conversion', value: 0, recommendationId: null };
      break;
    default:
      return { ok: false, line: lineNo, reason: `unknown behavior ${JSON.stringify(behavior)}` };
  }
  const checked = validateEvent(candidate);
  return checked.ok
    ? { ok: true, line: lineNo, event: checked.value }
    : { ok: false, line: lineNo, reason: checked.error };
}

/** Streams the file line by line (1-based line numbers), skipping blank lines. */
export async function* readTaobaoLog(path: string, tenant: string): AsyncGenerator<ParsedLine> {
  const source = basename(path);
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const text of lines) {
    lineNo++;
    if (text.trim().length === 0) continue;
    yield parseTaobaoLine(text, lineNo, source, tenant);
  }
}
