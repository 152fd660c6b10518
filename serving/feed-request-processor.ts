// Answers feed requests from a topic: every decodable request gets exactly one Feed record on the feeds topic,
// keyed by tenant/user, with status ok or the reason it could not be served.
import type { Producer } from 'kafkajs';
import { checkFeedRequest, type FeedRequestLimits } from '../core/funnel/feed-request.ts';
import type { Metrics } from '../platform/metrics.ts';
import type { FeedRecord, FeedRequestRecord, FeedSchemaIds } from '../schemas/feed-codec.ts';
import type { SchemaRegistryClient } from '../schemas/registry.ts';
import type { BatchProcessor, ConsumedRecord } from '../streams/consumer-runner.ts';
import { MAX_SEND_BYTES, sendInChunks } from '../streams/dead-letter.ts';
import { eventKey } from '../streams/event-producer.ts';
import { INDEX_VERSION, type FeedService } from './feed-service.ts';

export class FeedRequestProcessor implements BatchProcessor<FeedRequestRecord> {
  readonly name = 'feed-reader';

  constructor(
    private readonly feeds: FeedService,
    private readonly limits: FeedRequestLimits,
    private readonly registry: SchemaRegistryClient,
    private readonly ids: FeedSchemaIds,
    private readonly producer: Producer,
    private readonly feedsTopic: string,
    private readonly metrics: Metrics,
  ) {}

  async answer(req: FeedRequestRecord): Promise<FeedRecord> {
    const base = {
      requestId: req.requestId,
      tenant: req.tenant,
      userId: req.userId,
      timestamp: Date.now(),
      modelVersion: this.feeds.modelVersion,
      indexVersion: INDEX_VERSION,
      fallback: null,
      experiments: {},
      rankerVersion: null,
    };
    const checked = checkFeedRequest(
      {
        tenant: req.tenant,
        userId: req.userId,
        k: req.k,
        exclude: req.exclude,
        seedItems: req.seedItems,
        ...(req.where === null || req.where === undefined ? {} : { where: req.where }),
        ...(req.rules === null || req.rules === undefined ? {} : { rules: req.rules }),
      },
      this.limits,
    );
    if (!checked.ok)
      return { ...base, recommendationId: '', status: 'invalid_request', error: checked.error, items: [] };
    const outcome = await this.feeds.feed(checked.value);
    if (outcome.status !== 'ok')
      return { ...base, recommendationId: '', status: outcome.status, error: outcome.error, items: [] };
    return {
      ...base,
      recommendationId: outcome.recommendationId,
      status: 'ok',
      error: null,
      items: outcome.items,
      modelVersion: outcome.modelVersion,
      indexVersion: outcome.indexVersion,
      fallback: outcome.fallback,
      experiments: outcome.experiments,
      rankerVersion: outcome.rankerVersion,
    };
  }

  async process(records: ConsumedRecord<FeedRequestRecord>[]): Promise<void> {
    const messages = [];
    for (const r of records) {
      const endTimer = this.metrics.feedSeconds.startTimer({ channel: 'kafka' });
      const feed = await this.answer(r.value);
      endTimer();
      this.metrics.feedsServed.inc({ channel: 'kafka', status: feed.status });
      messages.push({ key: eventKey(feed), value: await this.registry.encode(this.ids.feed, { ...feed }) });
    }
    await sendInChunks(this.producer, this.feedsTopic, messages, MAX_SEND_BYTES); // a batch of large feeds may exceed the broker's batch limit
  }
}
