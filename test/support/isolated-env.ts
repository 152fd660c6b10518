// A test and bench helper, not a setting: the names one run uses so that it never collides with a deployment.
/**
 * Env overrides that give one run (a test file, a benchmark, the fault suite) its own topics, ClickHouse tables,
 * consumer groups and job queues, so it never shares state with a deployment or with another run on the same
 * services. One list here, so a new topic or table cannot be forgotten by one of the callers.
 */
export function isolatedEnv(scope: string, run: string): Record<string, string> {
  if (!/^[A-Za-z0-9-]+$/.test(scope) || !/^[A-Za-z0-9_]+$/.test(run))
    throw new Error(`isolatedEnv: scope must match [A-Za-z0-9-]+ and run [A-Za-z0-9_]+ (got '${scope}', '${run}')`);
  const topic = (name: string) => `${scope}.${run}.${name}`;
  const table = (name: string) => `${name}_${scope.replaceAll('-', '_')}_${run}`;
  return {
    TOPIC_EVENTS: topic('events'),
    TOPIC_EVENTS_DLQ: topic('events.dlq'),
    TOPIC_FEED_REQUESTS: topic('feed-requests'),
    TOPIC_FEED_REQUESTS_DLQ: topic('feed-requests.dlq'),
    TOPIC_FEEDS: topic('feeds'),
    TOPIC_ITEMS: topic('items'),
    TOPIC_ITEMS_DLQ: topic('items.dlq'),
    LEDGER_TABLE: table('ledger'),
    CATALOG_TABLE: table('items'),
    RANKER_EXAMPLES_TABLE: table('ranker_examples'),
    CONSUMER_GROUP_PREFIX: `${scope}-${run}`,
    QUEUE_PREFIX: `${scope}-${run}`,
  };
}
