// The ledger writer: every accepted event, append-only, into the ClickHouse ledger (state/ledger.ts: the table, its
// rows and its reads). Replayed batches collapse to one row per event id there.
import type { InteractionEvent } from '../core/events.ts';
import type { ClickHouseClient } from '../platform/clickhouse.ts';
import type { BatchProcessor, ConsumedRecord } from '../streams/consumer-runner.ts';
import { ensureLedgerTable, insertLedgerRows, toLedgerRow } from '../state/ledger.ts';

export class LedgerWriter implements BatchProcessor<InteractionEvent> {
  readonly name = 'ledger-writer';

  constructor(
    private readonly clickhouse: ClickHouseClient,
    private readonly database: string,
    private readonly table: string,
  ) {}

  async ensureTable(): Promise<void> {
    await ensureLedgerTable(this.clickhouse, this.database, this.table);
  }

  async process(records: ConsumedRecord<InteractionEvent>[]): Promise<void> {
    const now = Date.now();
    await insertLedgerRows(
      this.clickhouse,
      this.database,
      this.table,
      records.map((r) => toLedgerRow(r, now)),
    );
  }
}
