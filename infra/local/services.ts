// Local, Docker-free infrastructure: ClickHouse, Redis, Kafka (KRaft) and Apicurio Registry as plain processes
// under $RANKSTREAM_DATA_DIR, bound to 127.0.0.1 only, on the ports the app config (config/config.ts) defaults to.
// A second, independent set (the fault-injection suite's, test/faults) runs from the same functions given
// InfraOptions: another config (ports, data dir), the first set's downloaded jars, another ClickHouse native port.
//
// Layout (all under $DATA, default <repo>/.rankstream):
//   dist/<pkg>/          downloaded jars (install.sh)       conf/<svc>/   generated config files
//   <svc>/               service data                        logs/<svc>.log  stdout+stderr of the process
//   run/<svc>.pid        PID of the process we started       run/up.lock     serialises concurrent up() calls
//
// Ownership rule: we only ever signal a PID that came from one of our PID files AND whose /proc/<pid>/cmdline
// still names our config/jar (PIDs get reused). Anything else answering on a port is "external" and left alone.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig, type Config } from '../../config/config.ts';

const execFileP = promisify(execFile);

export const SERVICE_NAMES = ['clickhouse', 'redis', 'kafka', 'registry'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export const KAFKA_VERSION = '3.9.1';
export const REGISTRY_VERSION = '3.3.3';
/** ClickHouse native-protocol port (default); only the HTTP port is part of the app config. */
export const CLICKHOUSE_TCP_PORT = 19000;

/** Which set of services: the defaults are the app config from the environment and the ports above. */
export interface InfraOptions {
  /** URLs (ports) and data dir of the services (default: loadConfig() from the environment). */
  config?: Config;
  /** Where install.sh puts and start finds the jars (default <dataDir>/dist): a second set can reuse the first's. */
  distDir?: string;
  /** ClickHouse native-protocol port (default CLICKHOUSE_TCP_PORT). */
  clickhouseTcpPort?: number;
}

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const INSTALL_SH = path.join(REPO_ROOT, 'infra/local/install.sh');

export type Log = (line: string) => void;
const stderrLog: Log = (line) => process.stderr.write(`${line}\n`);

// ------------------------------------------------------------------------------------------------ probes
// Standalone so test/setup can probe containers on mapped ports with the same checks.

/** True when something accepts a TCP connection (says nothing about which program it is). */
export function isReachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function httpOk(url: string, expectBody?: (body: string) => boolean, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await res.text();
    return res.status === 200 && (expectBody === undefined || expectBody(body));
  } catch {
    return false;
  }
}

export function probeClickHouse(clickhouseUrl: string): Promise<boolean> {
  return httpOk(new URL('/ping', clickhouseUrl).toString(), (body) => body.trim() === 'Ok.');
}

export function probeRegistry(schemaRegistryUrl: string): Promise<boolean> {
  return httpOk(`${schemaRegistryUrl.replace(/\/+$/, '')}/subjects`);
}

/** Raw RESP PING: avoids ioredis' reconnect loop and its log noise while a server is still starting. */
export function probeRedis(redisUrl: string, timeoutMs = 1000): Promise<boolean> {
  const { host, port } = hostPort(redisUrl, 6379);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let buf = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
  });
}

/** A broker that answers Metadata with itself in the cluster: accepting TCP alone happens too early. */
export async function probeKafka(brokers: string[]): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'rankstream-infra-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 2000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export interface ServiceUrls {
  /** Comma-separated, as in KAFKA_BROKERS. */
  kafkaBrokers: string;
  schemaRegistryUrl: string;
  redisUrl: string;
  clickhouseUrl: string;
}

export function urlsFromConfig(cfg: Config = loadConfig()): ServiceUrls {
  return {
    kafkaBrokers: cfg.kafka.brokers.join(','),
    schemaRegistryUrl: cfg.schemaRegistryUrl,
    redisUrl: cfg.redisUrl,
    clickhouseUrl: cfg.clickhouse.url,
  };
}

/** Readiness of all four at the given URLs, in parallel. */
export async function probeUrls(urls: ServiceUrls): Promise<Record<ServiceName, boolean>> {
  const [clickhouse, redis, kafka, registry] = await Promise.all([
    probeClickHouse(urls.clickhouseUrl),
    probeRedis(urls.redisUrl),
    probeKafka(splitBrokers(urls.kafkaBrokers)),
    probeRegistry(urls.schemaRegistryUrl),
  ]);
  return { clickhouse, redis, kafka, registry };
}

// ------------------------------------------------------------------------------------------------ helpers

function splitBrokers(list: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function hostPort(urlOrHostPort: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(urlOrHostPort.includes('://') ? urlOrHostPort : `tcp://${urlOrHostPort}`);
  // URL keeps IPv6 literals bracketed; net.connect wants them bare.
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: u.port === '' ? defaultPort : Number(u.port) };
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1';
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Quoted string for redis.conf. */
function redisStr(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Value for a Java .properties file (backslash is the escape character there). */
function prop(s: string): string {
  return s.replace(/\\/g, '\\\\');
}

/** Relative to the cwd when inside it (short), absolute otherwise. */
function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel.startsWith('..') || path.isAbsolute(rel) ? p : rel;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function findBin(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const javaMajorCache = new Map<string, number | undefined>();

/** Major version of a java binary (1.8 -> 8); undefined when it does not run. */
async function javaMajor(bin: string): Promise<number | undefined> {
  if (javaMajorCache.has(bin)) return javaMajorCache.get(bin);
  let major: number | undefined;
  try {
    // -version output goes to stderr; exit code 0.
    const { stderr } = await execFileP(bin, ['-XshowSettings:properties', '-version'], { timeout: 15_000 });
    const m = /java\.specification\.version = (\S+)/.exec(stderr);
    if (m?.[1] !== undefined) {
      const v = m[1];
      major = Number(v.startsWith('1.') ? v.slice(2) : v.split('.')[0]);
    }
  } catch {
    major = undefined;
  }
  javaMajorCache.set(bin, major);
  return major;
}

function jvmDirJavas(): string[] {
  try {
    return fs
      .readdirSync('/usr/lib/jvm')
      .sort()
      .map((d) => path.join('/usr/lib/jvm', d, 'bin/java'))
      .filter((p) => fs.existsSync(p));
  } catch {
    return [];
  }
}

/**
 * First java in `candidates` whose major version is within [min, max]. Explicit env choices are listed first by
 * the caller; duplicates (symlinked alternatives) are harmless.
 */
async function pickJava(what: string, candidates: (string | undefined)[], min: number, max: number): Promise<string> {
  const tried: string[] = [];
  for (const c of candidates) {
    if (c === undefined || c === '') continue;
    const major = await javaMajor(c);
    tried.push(`${c} (${major === undefined ? 'does not run' : `Java ${major}`})`);
    if (major !== undefined && major >= min && major <= max) return c;
  }
  throw new Error(
    `${what} needs Java ${min}${max < 1000 ? `..${max}` : '+'}; none found. Tried: ${tried.join(', ') || 'nothing'}`,
  );
}

async function tail(file: string, lines = 40): Promise<string> {
  try {
    const fh = await fsp.open(file, 'r');
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return buf
        .toString('utf8')
        .split('\n')
        .slice(-lines - 1)
        .join('\n');
    } finally {
      await fh.close();
    }
  } catch {
    return '(no log)';
  }
}

// ------------------------------------------------------------------------------------------------ definitions

interface Launch {
  command: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

export interface ServiceDef {
  name: ServiceName;
  /** Host clients use (from the app config); we always bind 127.0.0.1. */
  host: string;
  /** The client port: "is something there" is decided on it. */
  port: number;
  /** Every port the process listens on, for reporting. */
  ports: number[];
  /** What clients connect to, as in the app config. */
  endpoint: string;
  confDir: string;
  dataDir: string;
  logFile: string;
  pidFile: string;
  readyTimeoutMs: number;
  /** Substrings that /proc/<pid>/cmdline must contain for that PID to be ours. */
  cmdlineMarkers: string[];
  isReady(): Promise<boolean>;
  /** Whether install.sh has provided what start needs. */
  installed(): boolean;
  /** Writes config files, does one-time initialisation, returns the command to run. */
  prepare(log: Log): Promise<Launch>;
}

export interface Layout {
  dataDir: string;
  distDir: string;
  runDir: string;
  logDir: string;
  clickhouseTcpPort: number;
}

export function layout(cfg: Config = loadConfig(), opts: Omit<InfraOptions, 'config'> = {}): Layout {
  const dataDir = path.resolve(REPO_ROOT, cfg.dataDir);
  return {
    dataDir,
    distDir: opts.distDir === undefined ? path.join(dataDir, 'dist') : path.resolve(REPO_ROOT, opts.distDir),
    runDir: path.join(dataDir, 'run'),
    logDir: path.join(dataDir, 'logs'),
    clickhouseTcpPort: opts.clickhouseTcpPort ?? CLICKHOUSE_TCP_PORT,
  };
}

function base(name: ServiceName, l: Layout): Pick<ServiceDef, 'confDir' | 'dataDir' | 'logFile' | 'pidFile'> {
  return {
    confDir: path.join(l.dataDir, 'conf', name),
    dataDir: path.join(l.dataDir, name),
    logFile: path.join(l.logDir, `${name}.log`),
    pidFile: path.join(l.runDir, `${name}.pid`),
  };
}

function clickhouseDef(cfg: Config, l: Layout): ServiceDef {
  const b = base('clickhouse', l);
  const { host, port } = hostPort(cfg.clickhouse.url, 8123);
  const configFile = path.join(b.confDir, 'config.xml');
  return {
    name: 'clickhouse',
    host,
    port,
    ports: [port, l.clickhouseTcpPort],
    endpoint: cfg.clickhouse.url,
    ...b,
    readyTimeoutMs: 60_000,
    cmdlineMarkers: ['clickhouse', configFile],
    isReady: () => probeClickHouse(cfg.clickhouse.url),
    installed: () => findBin('clickhouse-server') !== undefined,
    async prepare() {
      const bin = findBin('clickhouse-server');
      if (bin === undefined) throw new Error('clickhouse-server not found (run infra/local/install.sh clickhouse)');
      const d = b.dataDir;
      for (const sub of ['', 'tmp', 'user_files', 'format_schemas'])
        await fsp.mkdir(path.join(d, sub), { recursive: true });
      // ClickHouse 18.16 (Debian) still uses the <yandex> root. No interserver_http_port: without it the
      // replication port is not opened at all. Logs go to the console, i.e. our log file.
      await fsp.writeFile(
        configFile,
        `<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <console>1</console>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>${port}</http_port>
    <tcp_port>${l.clickhouseTcpPort}</tcp_port>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>10</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>1073741824</uncompressed_cache_size>
    <mark_cache_size>536870912</mark_cache_size>
    <path>${xml(d)}/</path>
    <tmp_path>${xml(d)}/tmp/</tmp_path>
    <user_files_path>${xml(d)}/user_files/</user_files_path>
    <format_schema_path>${xml(d)}/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
</yandex>
`,
      );
      await fsp.writeFile(
        path.join(b.confDir, 'users.xml'),
        `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`,
      );
      return { command: bin, args: [`--config-file=${configFile}`], cwd: d };
    },
  };
}

function redisDef(cfg: Config, l: Layout): ServiceDef {
  const b = base('redis', l);
  const { host, port } = hostPort(cfg.redisUrl, 6379);
  const configFile = path.join(b.confDir, 'redis.conf');
  return {
    name: 'redis',
    host,
    port,
    ports: [port],
    endpoint: cfg.redisUrl,
    ...b,
    readyTimeoutMs: 30_000,
    // Redis rewrites its argv (process title); the template below keeps the config path in it.
    cmdlineMarkers: ['redis-server', configFile],
    isReady: () => probeRedis(cfg.redisUrl),
    installed: () => findBin('redis-server') !== undefined,
    async prepare() {
      const bin = findBin('redis-server');
      if (bin === undefined) throw new Error('redis-server not found (run infra/local/install.sh redis)');
      await fsp.mkdir(b.dataDir, { recursive: true });
      await fsp.writeFile(
        configFile,
        [
          'bind 127.0.0.1',
          'protected-mode yes',
          `port ${port}`,
          'daemonize no',
          'supervised no',
          'logfile ""',
          `dir ${redisStr(b.dataDir)}`,
          'appendonly yes',
          'appendfsync everysec',
          'save 3600 1 300 100 60 10000',
          'proc-title-template "{title} {listen-addr} {server-mode} {config-file}"',
          '',
        ].join('\n'),
      );
      return { command: bin, args: [configFile], cwd: b.dataDir };
    },
  };
}

function kafkaDef(cfg: Config, l: Layout): ServiceDef {
  const b = base('kafka', l);
  const first = cfg.kafka.brokers[0] ?? '127.0.0.1:19092';
  const { host, port } = hostPort(first, 9092);
  // Convention: the KRaft controller listens on the next port (19093 by default).
  const controllerPort = port + 1;
  const dist = path.join(l.distDir, `kafka-${KAFKA_VERSION}`);
  const libs = path.join(dist, 'libs');
  const serverProps = path.join(b.confDir, 'server.properties');
  const log4jProps = path.join(b.confDir, 'log4j.properties');
  const logDirs = path.join(b.dataDir, 'data');
  const javaCandidates = (): (string | undefined)[] => [
    process.env.RANKSTREAM_KAFKA_JAVA,
    process.env.JAVA_HOME === undefined ? undefined : path.join(process.env.JAVA_HOME, 'bin/java'),
    findBin('java'),
    ...jvmDirJavas(),
  ];
  return {
    name: 'kafka',
    host,
    port,
    ports: [port, controllerPort],
    endpoint: cfg.kafka.brokers.join(','),
    ...b,
    readyTimeoutMs: 120_000,
    cmdlineMarkers: ['kafka.Kafka', serverProps],
    isReady: () => probeKafka(cfg.kafka.brokers),
    installed: () => fs.existsSync(path.join(libs, '.complete')) && findBin('java') !== undefined,
    async prepare(log) {
      // Kafka 3.9 is tested on Java 11..23; Debian's default 17 is the well-trodden one.
      const java = await pickJava('Kafka 3.9', javaCandidates(), 11, 23);
      await fsp.mkdir(logDirs, { recursive: true });
      await fsp.writeFile(
        serverProps,
        [
          '# Generated by infra/local/services.ts: single-node KRaft (broker + controller), loopback only.',
          'process.roles=broker,controller',
          'node.id=1',
          `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
          `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
          `advertised.listeners=PLAINTEXT://${host}:${port}`,
          'inter.broker.listener.name=PLAINTEXT',
          'controller.listener.names=CONTROLLER',
          'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
          `log.dirs=${prop(logDirs)}`,
          'num.partitions=1',
          'default.replication.factor=1',
          'min.insync.replicas=1',
          'offsets.topic.replication.factor=1',
          'transaction.state.log.replication.factor=1',
          'transaction.state.log.min.isr=1',
          'share.coordinator.state.topic.replication.factor=1',
          'share.coordinator.state.topic.min.isr=1',
          // Topics are created explicitly by the app; on KRaft auto-create also answers with a retriable error first.
          'auto.create.topics.enable=false',
          // Consumer groups in tests should not wait 3 s for more members.
          'group.initial.rebalance.delay.ms=0',
          'log.retention.hours=168',
          'log.segment.bytes=134217728',
          'num.network.threads=2',
          'num.io.threads=4',
          '',
        ].join('\n'),
      );
      await fsp.writeFile(
        log4jProps,
        [
          '# Broker log to a size-bounded file under the data dir (the Maven jars ship no log4j config).',
          'log4j.rootLogger=INFO, file',
          'log4j.appender.file=org.apache.log4j.RollingFileAppender',
          `log4j.appender.file.File=${prop(b.logFile)}`,
          'log4j.appender.file.Append=true',
          'log4j.appender.file.MaxFileSize=50MB',
          'log4j.appender.file.MaxBackupIndex=3',
          'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
          'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
          'log4j.logger.kafka.request.logger=WARN',
          'log4j.logger.org.apache.kafka.clients.NetworkClient=WARN',
          'log4j.logger.state.change.logger=WARN',
          'log4j.logger.kafka.log.LogCleaner=WARN',
          '',
        ].join('\n'),
      );
      const cp = `${libs}/*`;
      // One-time KRaft storage format; the cluster id is kept so a wiped log dir re-formats into the same cluster.
      if (!fs.existsSync(path.join(logDirs, 'meta.properties'))) {
        const idFile = path.join(b.confDir, 'cluster.id');
        let clusterId = fs.existsSync(idFile) ? (await fsp.readFile(idFile, 'utf8')).trim() : '';
        if (clusterId === '') {
          const { stdout } = await execFileP(java, ['-cp', cp, 'kafka.tools.StorageTool', 'random-uuid'], {
            timeout: 60_000,
          });
          clusterId = stdout.trim().split('\n').pop() ?? '';
          if (!/^[A-Za-z0-9_-]{22}$/.test(clusterId))
            throw new Error(`StorageTool random-uuid printed '${stdout.trim()}'`);
          await fsp.writeFile(idFile, `${clusterId}\n`);
        }
        log(`kafka: formatting KRaft storage (cluster ${clusterId})`);
        const { stdout } = await execFileP(
          java,
          [
            `-Dlog4j.configuration=file:${log4jProps}`,
            '-cp',
            cp,
            'kafka.tools.StorageTool',
            'format',
            '--ignore-formatted',
            '-t',
            clusterId,
            '-c',
            serverProps,
          ],
          { timeout: 60_000 },
        );
        await fsp.appendFile(b.logFile, stdout);
      }
      return {
        command: java,
        args: [
          '-Xms256m',
          '-Xmx768m',
          '-XX:+UseG1GC',
          '-XX:MaxGCPauseMillis=20',
          '-XX:+ExitOnOutOfMemoryError',
          '-Djava.awt.headless=true',
          `-Dlog4j.configuration=file:${log4jProps}`,
          `-Dkafka.logs.dir=${l.logDir}`,
          '-cp',
          cp,
          'kafka.Kafka',
          serverProps,
        ],
        cwd: b.dataDir,
      };
    },
  };
}

function registryDef(cfg: Config, l: Layout): ServiceDef {
  const b = base('registry', l);
  const { host, port } = hostPort(cfg.schemaRegistryUrl, 80);
  // Quarkus' management interface (health, metrics) would otherwise bind 0.0.0.0:9000, which collides with
  // ClickHouse's default native port and is not loopback.
  const managementPort = port + 10;
  const dist = path.join(l.distDir, `apicurio-registry-${REGISTRY_VERSION}`);
  const jar = path.join(dist, 'quarkus-run.jar');
  return {
    name: 'registry',
    host,
    port,
    ports: [port, managementPort],
    endpoint: cfg.schemaRegistryUrl,
    ...b,
    readyTimeoutMs: 180_000,
    cmdlineMarkers: [jar],
    isReady: () => probeRegistry(cfg.schemaRegistryUrl),
    installed: () => fs.existsSync(jar),
    async prepare() {
      const java = await pickJava(
        `Apicurio Registry ${REGISTRY_VERSION} (set RANKSTREAM_REGISTRY_JAVA to a java binary)`,
        [
          process.env.RANKSTREAM_REGISTRY_JAVA,
          process.env.JAVA_HOME === undefined ? undefined : path.join(process.env.JAVA_HOME, 'bin/java'),
          ...jvmDirJavas(),
          findBin('java'),
        ],
        21,
        Number.MAX_SAFE_INTEGER,
      );
      await fsp.mkdir(b.dataDir, { recursive: true });
      // Quarkus takes its settings as -D system properties; conf/registry/command.txt records them for reference.
      const args = [
        '-Xmx384m',
        '-XX:+ExitOnOutOfMemoryError',
        '-Dquarkus.http.host=127.0.0.1',
        `-Dquarkus.http.port=${port}`,
        '-Dquarkus.management.host=127.0.0.1',
        `-Dquarkus.management.port=${managementPort}`,
        // H2 in a file: schemas survive restarts (the default is in-memory).
        `-Dapicurio.datasource.url=jdbc:h2:file:${path.join(b.dataDir, 'db')}`,
        '-Dapicurio.datasource.jdbc.initial-size=2',
        '-Dapicurio.datasource.jdbc.min-size=2',
        '-Dapicurio.datasource.jdbc.max-size=10',
        '-jar',
        jar,
      ];
      await fsp.writeFile(path.join(b.confDir, 'command.txt'), `${[java, ...args].join(' \\\n  ')}\n`);
      return { command: java, args, cwd: b.dataDir };
    },
  };
}

export function serviceDefs(cfg: Config = loadConfig(), opts: Omit<InfraOptions, 'config'> = {}): ServiceDef[] {
  const l = layout(cfg, opts);
  return [clickhouseDef(cfg, l), redisDef(cfg, l), kafkaDef(cfg, l), registryDef(cfg, l)];
}

// ------------------------------------------------------------------------------------------------ processes

function readPid(pidFile: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie (a zombie is gone for our purposes; its parent just has not reaped it yet). */
function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3 follows the parenthesised command name, which may itself contain spaces or parentheses.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function cmdlineOf(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

/** The PID from the service's PID file when that process is alive and still is our service. */
function ourPid(def: ServiceDef): number | undefined {
  const pid = readPid(def.pidFile);
  if (pid === undefined || !isAlive(pid)) return undefined;
  const cmdline = cmdlineOf(pid);
  if (cmdline === undefined) return undefined;
  return def.cmdlineMarkers.every((m) => cmdline.includes(m)) ? pid : undefined;
}

async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  intervalMs = 250,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

async function startProcess(def: ServiceDef, log: Log): Promise<number> {
  await fsp.mkdir(def.confDir, { recursive: true });
  await fsp.mkdir(path.dirname(def.logFile), { recursive: true });
  await fsp.mkdir(path.dirname(def.pidFile), { recursive: true });
  await fsp.appendFile(
    def.logFile,
    `\n===== ${new Date().toISOString()} rankstream infra: starting ${def.name} =====\n`,
  );
  const launch = await def.prepare(log);
  const fd = fs.openSync(def.logFile, 'a');
  // detached: own session, so Ctrl-C on `up` or the test runner exiting does not take the service down.
  const child = spawn(launch.command, launch.args, {
    cwd: launch.cwd,
    env: launch.env ?? process.env,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
  } finally {
    // The child has its own copy of the descriptor.
    fs.closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${def.name}: spawn returned no pid`);
  await fsp.writeFile(def.pidFile, `${pid}\n`);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = signal === null ? `exit code ${code}` : `signal ${signal}`;
  });
  child.unref();
  log(`${def.name}: started pid ${pid} (${launch.command.split('/').pop()}), log ${displayPath(def.logFile)}`);

  const ready = await waitUntil(async () => exited !== undefined || (await def.isReady()), def.readyTimeoutMs, 300);
  if (exited !== undefined) {
    await fsp.rm(def.pidFile, { force: true });
    throw new Error(
      `${def.name} exited during startup (${exited}). Last lines of ${def.logFile}:\n${await tail(def.logFile)}`,
    );
  }
  if (!ready) {
    throw new Error(
      `${def.name} (pid ${pid}) not ready on ${def.host}:${def.port} after ${def.readyTimeoutMs / 1000}s; ` +
        `it is left running for inspection (\`npm run infra down\` stops it). Last lines of ${def.logFile}:\n${await tail(def.logFile)}`,
    );
  }
  return pid;
}

// ------------------------------------------------------------------------------------------------ lock

/** Serialises up() across processes (two test runs starting at once must not both start Kafka). */
async function withLock<T>(l: Layout, log: Log, fn: () => Promise<T>): Promise<T> {
  await fsp.mkdir(l.runDir, { recursive: true });
  const lockFile = path.join(l.runDir, 'up.lock');
  const deadline = Date.now() + 15 * 60_000;
  let announced = false;
  for (;;) {
    try {
      await fsp.writeFile(lockFile, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readPid(lockFile);
      if (holder === undefined || !isAlive(holder)) {
        await fsp.rm(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${lockFile} held by pid ${holder} for too long`);
      if (!announced) log(`waiting for another \`up\` (pid ${holder}) to finish`);
      announced = true;
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    await fsp.rm(lockFile, { force: true });
  }
}

// ------------------------------------------------------------------------------------------------ up / down / status

export type UpAction = 'started' | 'running' | 'external';
export interface UpResult {
  name: ServiceName;
  action: UpAction;
  pid?: number;
  endpoint: string;
  ms: number;
}

export interface UpOptions extends InfraOptions {
  log?: Log;
  /** Services to bring up (default: all four). */
  only?: readonly ServiceName[];
}

async function runInstall(components: ServiceName[], l: Layout, log: Log): Promise<void> {
  log(`installing: ${components.join(', ')} (infra/local/install.sh)`);
  const child = spawn('bash', [INSTALL_SH, ...components], {
    cwd: REPO_ROOT,
    env: { ...process.env, RANKSTREAM_DATA_DIR: l.dataDir, RANKSTREAM_DIST_DIR: l.distDir },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`infra/local/install.sh ${components.join(' ')} failed (exit ${code})`);
}

/** One service: reuse ours, leave an external one alone, or start it. */
async function upOne(def: ServiceDef, log: Log): Promise<UpResult> {
  const t0 = Date.now();
  const result = (action: UpAction, pid?: number): UpResult => ({
    name: def.name,
    action,
    pid,
    endpoint: def.endpoint,
    ms: Date.now() - t0,
  });
  const pid = ourPid(def);
  if (pid !== undefined) {
    // Ours but maybe still starting (e.g. a previous `up` timed out): give it the normal startup budget.
    if (!(await waitUntil(() => def.isReady(), def.readyTimeoutMs, 300))) {
      throw new Error(
        `${def.name}: our pid ${pid} is running but not ready. Last lines of ${def.logFile}:\n${await tail(def.logFile)}`,
      );
    }
    return result('running', pid);
  }
  await fsp.rm(def.pidFile, { force: true });
  if (await isReachable(def.host, def.port)) {
    // Not ours; could be a compose stack or another checkout's `up` that is still starting.
    if (!(await waitUntil(() => def.isReady(), 30_000, 500))) {
      throw new Error(
        `${def.host}:${def.port} is taken by a process we did not start and it does not answer as ${def.name}`,
      );
    }
    return result('external');
  }
  if (!isLoopback(def.host)) {
    throw new Error(
      `${def.name} is configured at ${def.endpoint}, which is not local and not reachable; not starting it here`,
    );
  }
  return result('started', await startProcess(def, log));
}

/**
 * Starts every service that is neither ours-and-running nor answered by someone else; all four in parallel.
 * Rejects with every failure's message (each including the tail of that service's log) once all have settled.
 */
export async function up(opts: UpOptions = {}): Promise<UpResult[]> {
  const log = opts.log ?? stderrLog;
  const cfg = opts.config ?? loadConfig();
  const l = layout(cfg, opts);
  const defs = serviceDefs(cfg, opts).filter((d) => opts.only === undefined || opts.only.includes(d.name));
  return withLock(l, log, async () => {
    // Install only what we will have to start.
    const toInstall: ServiceName[] = [];
    for (const def of defs) {
      if (def.installed() || ourPid(def) !== undefined) continue;
      if (await isReachable(def.host, def.port)) continue;
      toInstall.push(def.name);
    }
    if (toInstall.length > 0) await runInstall(toInstall, l, log);

    const settled = await Promise.allSettled(defs.map((def) => upOne(def, log)));
    const failures = settled.flatMap((s) =>
      s.status === 'rejected' ? [s.reason instanceof Error ? s.reason.message : String(s.reason)] : [],
    );
    if (failures.length > 0) throw new Error(failures.join('\n\n'));
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  });
}

/** For test setup: what up() started in this call, so teardown stops exactly that. */
export async function ensureServices(opts: UpOptions = {}): Promise<{ startedByUs: ServiceName[] }> {
  const results = await up(opts);
  return { startedByUs: results.filter((r) => r.action === 'started').map((r) => r.name) };
}

export type DownAction = 'stopped' | 'killed' | 'not-running' | 'stale-pid-file';
export interface DownResult {
  name: ServiceName;
  action: DownAction;
  pid?: number;
}

async function downOne(def: ServiceDef, log: Log, signal: 'SIGTERM' | 'SIGKILL'): Promise<DownResult> {
  const pidInFile = readPid(def.pidFile);
  if (pidInFile === undefined) return { name: def.name, action: 'not-running' };
  const pid = ourPid(def);
  if (pid === undefined) {
    // Dead, or the PID now belongs to some other program: never signal it.
    await fsp.rm(def.pidFile, { force: true });
    return { name: def.name, action: 'stale-pid-file', pid: pidInFile };
  }
  process.kill(pid, signal);
  let action: DownAction = signal === 'SIGKILL' ? 'killed' : 'stopped';
  if (!(await waitUntil(() => !isAlive(pid), signal === 'SIGKILL' ? 5_000 : 20_000, signal === 'SIGKILL' ? 20 : 200))) {
    if (signal === 'SIGKILL') throw new Error(`${def.name}: pid ${pid} survives SIGKILL`);
    log(`${def.name}: pid ${pid} ignored SIGTERM for 20s, sending SIGKILL`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited in between
    }
    action = 'killed';
    if (!(await waitUntil(() => !isAlive(pid), 5_000, 100)))
      throw new Error(`${def.name}: pid ${pid} survives SIGKILL`);
  }
  // The group leader turns zombie while the JVM's other threads are still tearing down and holding the listening
  // sockets: a start right away would find the port taken by "someone else". Gone means its ports are closed too.
  const host = def.host;
  if (
    !(await waitUntil(
      async () => (await Promise.all(def.ports.map((p) => isReachable(host, p, 200)))).every((open) => !open),
      30_000,
      50,
    ))
  ) {
    throw new Error(
      `${def.name}: pid ${pid} has exited but ${def.ports.join(', ')} still accept connections after 30 s`,
    );
  }
  await fsp.rm(def.pidFile, { force: true });
  return { name: def.name, action, pid };
}

export interface DownOptions extends InfraOptions {
  /** SIGTERM (default: a clean stop, SIGKILL after 20 s) or SIGKILL (a crash, for fault injection). */
  signal?: 'SIGTERM' | 'SIGKILL';
}

/** Stops the services we started (all, or `only`). External processes are never touched. */
export async function down(
  only?: readonly ServiceName[],
  log: Log = stderrLog,
  opts: DownOptions = {},
): Promise<DownResult[]> {
  const defs = serviceDefs(opts.config ?? loadConfig(), opts).filter(
    (d) => only === undefined || only.includes(d.name),
  );
  return Promise.all(defs.map((def) => downOne(def, log, opts.signal ?? 'SIGTERM')));
}

export type ServiceState = 'running' | 'external' | 'down';
export interface StatusResult {
  name: ServiceName;
  state: ServiceState;
  pid?: number;
  /** Accepts TCP connections on its client port. */
  reachable: boolean;
  /** Answers its readiness probe. */
  ready: boolean;
  endpoint: string;
  ports: number[];
  logFile: string;
}

export async function status(opts: InfraOptions = {}): Promise<StatusResult[]> {
  return Promise.all(
    serviceDefs(opts.config ?? loadConfig(), opts).map(async (def) => {
      const pid = ourPid(def);
      const [reachable, ready] = await Promise.all([isReachable(def.host, def.port), def.isReady()]);
      const state: ServiceState = pid !== undefined ? 'running' : reachable ? 'external' : 'down';
      return {
        name: def.name,
        state,
        pid,
        reachable,
        ready,
        endpoint: def.endpoint,
        ports: def.ports,
        logFile: def.logFile,
      };
    }),
  );
}
