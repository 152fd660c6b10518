// Vitest globalSetup for the integration project: makes Kafka, the schema registry, Redis and ClickHouse available.
//
//   1. all four already answer at the configured URLs (env or config/config.ts defaults) -> use them as they are;
//   2. else, a Docker engine is reachable -> throwaway containers via testcontainers (random host ports);
//   3. else -> the local processes of infra/local (`ensureServices()`), installing them on first use.
// RANKSTREAM_TEST_INFRA=local|docker forces 2 or 3 when 1 does not hold. RANKSTREAM_TEST_KEEP_SERVICES=1 leaves
// local services started here running after the run (faster next run; `npm run infra down` stops them).
// Teardown stops only what this setup started.
//
// How test workers learn the URLs: this file runs in the main vitest process, before any worker exists. Vitest 4.1
// builds each worker's environment when it schedules test files, as {...process.env, ...test.env from the config}
// (see the pool's `env` in vitest/dist/chunks/cli-api.*.js), for forks and threads alike. So we set
// process.env.KAFKA_BROKERS / SCHEMA_REGISTRY_URL / REDIS_URL / CLICKHOUSE_URL here and `loadConfig()` inside tests
// sees them. The same values are also provided as `inject('rankstreamServices')` for tests that prefer to be
// explicit. Caveat: a `test.env` entry for these variables in vitest.config.ts would override ours.
import type { TestProject } from 'vitest/node';
import { GenericContainer, Wait, getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers';
import {
  down,
  ensureServices,
  probeKafka,
  probeUrls,
  urlsFromConfig,
  type ServiceName,
  type ServiceUrls,
} from '../../infra/local/services.ts';
import { waitUntil } from '../support/wait.ts';

export type ServicesMode = 'existing' | 'containers' | 'local';

declare module 'vitest' {
  export interface ProvidedContext {
    rankstreamServices: ServiceUrls & { mode: ServicesMode };
  }
}

const log = (line: string): void => {
  process.stderr.write(`[services] ${line}\n`);
};

function exportUrls(project: TestProject, urls: ServiceUrls, mode: ServicesMode): void {
  process.env.KAFKA_BROKERS = urls.kafkaBrokers;
  process.env.SCHEMA_REGISTRY_URL = urls.schemaRegistryUrl;
  process.env.REDIS_URL = urls.redisUrl;
  process.env.CLICKHOUSE_URL = urls.clickhouseUrl;
  project.provide('rankstreamServices', { ...urls, mode });
  log(
    `${mode}: kafka ${urls.kafkaBrokers}, registry ${urls.schemaRegistryUrl}, redis ${urls.redisUrl}, clickhouse ${urls.clickhouseUrl}`,
  );
}

/** testcontainers' runtime discovery, bounded: with no engine it can otherwise spend a while trying strategies. */
async function dockerAvailable(timeoutMs = 5_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
  });
  try {
    await Promise.race([getContainerRuntimeClient(), timeout]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

// ------------------------------------------------------------------------------------------------ containers

const KAFKA_IMAGE = 'apache/kafka:3.9.1';
const REGISTRY_IMAGE = 'apicurio/apicurio-registry:3.3.3';
const REDIS_IMAGE = 'redis:7';
const CLICKHOUSE_IMAGE = 'clickhouse/clickhouse-server:24.8';

const KAFKA_STARTER = '/tmp/rankstream_start.sh';
const KAFKA_STARTER_READY = '/tmp/rankstream_start.ready';
const KAFKA_WAITING = 'rankstream: waiting for starter script';

/**
 * Kafka must advertise the *host-side* address, which only exists once Docker has mapped the port. Same trick as
 * the testcontainers Kafka modules: start with a command that waits for a script, then copy in a script that
 * exports KAFKA_ADVERTISED_LISTENERS and execs the image's normal entry (/etc/kafka/docker/run). A separate marker
 * file is copied after the script so the loop never executes a half-written file ("Text file busy").
 */
async function startKafka(): Promise<{ container: StartedTestContainer; brokers: string }> {
  const container = await new GenericContainer(KAFKA_IMAGE)
    .withExposedPorts(9092)
    .withEnvironment({
      CLUSTER_ID: '4L6g3nShT-eMCtK--X86sw',
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      // PLAINTEXT: clients on the host via the mapped port; BROKER: inter-broker (itself); CONTROLLER: KRaft quorum.
      KAFKA_LISTENERS: 'PLAINTEXT://0.0.0.0:9092,BROKER://0.0.0.0:9093,CONTROLLER://0.0.0.0:9094',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'BROKER',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9094',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    })
    .withCommand([
      'sh',
      '-c',
      `echo '${KAFKA_WAITING}'; while [ ! -f ${KAFKA_STARTER_READY} ]; do sleep 0.1; done; exec ${KAFKA_STARTER}`,
    ])
    .withWaitStrategy(Wait.forLogMessage(KAFKA_WAITING))
    .start();
  try {
    const brokers = `${container.getHost()}:${container.getMappedPort(9092)}`;
    const script = [
      '#!/bin/sh',
      `export KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://${brokers},BROKER://localhost:9093`,
      'exec /etc/kafka/docker/run',
      '',
    ].join('\n');
    await container.copyContentToContainer([{ content: script, target: KAFKA_STARTER, mode: 0o755 }]);
    await container.copyContentToContainer([{ content: '', target: KAFKA_STARTER_READY, mode: 0o644 }]);
    if (!(await waitUntil(() => probeKafka([brokers]), { timeoutMs: 120_000, intervalMs: 500 })))
      throw new Error(`Kafka container not ready at ${brokers} after 120s`);
    return { container, brokers };
  } catch (err) {
    await container.stop().catch(() => undefined);
    throw err;
  }
}

async function startRegistry(): Promise<{ container: StartedTestContainer; url: string }> {
  // In-memory storage (the image default) is right for a throwaway test registry.
  const container = await new GenericContainer(REGISTRY_IMAGE)
    .withExposedPorts(8080)
    .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080).forStatusCode(200))
    .withStartupTimeout(180_000)
    .start();
  return { container, url: `http://${container.getHost()}:${container.getMappedPort(8080)}/apis/ccompat/v7` };
}

async function startRedis(): Promise<{ container: StartedTestContainer; url: string }> {
  const container = await new GenericContainer(REDIS_IMAGE)
    .withExposedPorts(6379)
    .withCommand(['redis-server', '--appendonly', 'yes'])
    .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
    .start();
  return { container, url: `redis://${container.getHost()}:${container.getMappedPort(6379)}` };
}

async function startClickHouse(): Promise<{ container: StartedTestContainer; url: string }> {
  const container = await new GenericContainer(CLICKHOUSE_IMAGE)
    .withExposedPorts(8123)
    // Without this the image restricts the password-less `default` user to connections from inside the container.
    .withEnvironment({ CLICKHOUSE_SKIP_USER_SETUP: '1' })
    .withUlimits({ nofile: { soft: 262144, hard: 262144 } })
    .withWaitStrategy(Wait.forHttp('/ping', 8123).forStatusCode(200))
    .withStartupTimeout(120_000)
    .start();
  return { container, url: `http://${container.getHost()}:${container.getMappedPort(8123)}` };
}

async function startContainers(): Promise<{ urls: ServiceUrls; containers: StartedTestContainer[] }> {
  const settled = await Promise.allSettled([startKafka(), startRegistry(), startRedis(), startClickHouse()]);
  const containers = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.container] : []));
  const [kafka, registry, redis, clickhouse] = settled;
  if (
    kafka?.status !== 'fulfilled' ||
    registry?.status !== 'fulfilled' ||
    redis?.status !== 'fulfilled' ||
    clickhouse?.status !== 'fulfilled'
  ) {
    await Promise.all(containers.map((c) => c.stop().catch(() => undefined)));
    const reasons = settled.flatMap((s) =>
      s.status === 'rejected' ? [s.reason instanceof Error ? s.reason.message : String(s.reason)] : [],
    );
    throw new Error(`could not start test containers:\n${reasons.join('\n')}`);
  }
  return {
    urls: {
      kafkaBrokers: kafka.value.brokers,
      schemaRegistryUrl: registry.value.url,
      redisUrl: redis.value.url,
      clickhouseUrl: clickhouse.value.url,
    },
    containers,
  };
}

// ------------------------------------------------------------------------------------------------ entry

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = Date.now();
  const configured = urlsFromConfig();
  const ready = await probeUrls(configured);
  const missing = (Object.keys(ready) as ServiceName[]).filter((name) => !ready[name]);
  if (missing.length === 0) {
    exportUrls(project, configured, 'existing');
    return async () => undefined;
  }
  log(`not answering: ${missing.join(', ')}`);

  const forced = process.env.RANKSTREAM_TEST_INFRA;
  const useDocker = forced === 'docker' ? true : forced === 'local' ? false : await dockerAvailable();
  if (useDocker) {
    log('starting containers (testcontainers)');
    const { urls, containers } = await startContainers();
    exportUrls(project, urls, 'containers');
    log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    return async () => {
      await Promise.all(containers.map((c) => c.stop()));
    };
  }

  log('no Docker engine: using local services (infra/local)');
  const { startedByUs } = await ensureServices({ log });
  // Local services always sit at the configured URLs.
  exportUrls(project, configured, 'local');
  log(
    `ready in ${((Date.now() - t0) / 1000).toFixed(1)}s${startedByUs.length > 0 ? `; started ${startedByUs.join(', ')}` : ''}`,
  );
  return async () => {
    if (startedByUs.length === 0 || process.env.RANKSTREAM_TEST_KEEP_SERVICES === '1') return;
    log(`stopping ${startedByUs.join(', ')}`);
    await down(startedByUs, log);
  };
}
