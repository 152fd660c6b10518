// provision() then deprovision() of an isolated run on the real services: topics (also extra ones under the run's
// prefix), schema subjects, consumer groups and tables all gone afterwards (benches and test files clean up with it).
import { describe, expect, it } from 'vitest';
import { deprovision, provision, provisionedTables } from '../../apps/provision.ts';
import { createClickHouse, sqlString } from '../../platform/clickhouse.ts';
import { SchemaRegistryClient } from '../../schemas/registry.ts';
import { allTopics, createKafka, ensureTopics } from '../../streams/kafka.ts';
import { isolatedConfig, logger } from '../support/harness.ts';

const config = isolatedConfig('deprov');
const runPrefix = `t.${config.suffix}.`;

async function state() {
  const kafka = createKafka(config, logger);
  const admin = kafka.admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(runPrefix));
  const groups = (await admin.listGroups()).groups
    .map((g) => g.groupId)
    .filter((g) => g.startsWith(`${config.runner.groupPrefix}-`));
  await admin.disconnect();
  const subjects = (await new SchemaRegistryClient(config.schemaRegistryUrl).subjects()).filter((s) =>
    allTopics(config).some((t) => s.startsWith(`${t}-`)),
  );
  const clickhouse = createClickHouse(config);
  const rs = await clickhouse.query({
    query: `SELECT name FROM system.tables WHERE database = ${sqlString(config.clickhouse.database)} AND name IN (${provisionedTables(config).map(sqlString).join(', ')})`,
    format: 'JSONEachRow',
  });
  const tables = (await rs.json<{ name: string }>()).map((r) => r.name);
  await clickhouse.close();
  return { topics: topics.length, groups: groups.length, subjects: subjects.length, tables: tables.length };
}

describe('deprovision', () => {
  it('removes every topic, subject, consumer group and table of an isolated run', async () => {
    await provision(config, logger);
    // a topic a test adds under the run's prefix (runner tests do): it goes too
    await ensureTopics(createKafka(config, logger), [`${runPrefix}extra`], 1);
    // a consumer group of the run's prefix with a committed offset (a group without one vanishes when it empties)
    const kafka = createKafka(config, logger);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: config.topics.feeds, messages: [{ value: 'x' }] });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: `${config.runner.groupPrefix}-probe` });
    await consumer.connect();
    await consumer.subscribe({ topic: config.topics.feeds, fromBeginning: true });
    let seen!: () => void;
    const consumed = new Promise<void>((r) => (seen = r));
    await consumer.run({ eachMessage: async () => seen() });
    await consumed;
    await consumer.disconnect(); // commits the offset

    const before = await state();
    expect(allTopics(config).every((t) => t.startsWith(runPrefix))).toBe(true);
    expect(before).toMatchObject({ topics: 8, groups: 1, tables: 3 });
    expect(before.subjects).toBeGreaterThanOrEqual(7);

    const report = await deprovision(config, logger);
    expect(report).toEqual({
      consumerGroups: 'removed 1',
      topics: 'removed 8',
      schemaSubjects: `removed ${before.subjects}`,
      tables: 'removed 3',
    });
    expect(await state()).toEqual({ topics: 0, groups: 0, subjects: 0, tables: 0 });
  });
});
