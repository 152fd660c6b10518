// ClickHouse (Debian's clickhouse-server): readiness probe, config.xml/users.xml rendering and start command.
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../config/config.ts';
import { findBin } from './executables.ts';
import { servicePaths, type Layout } from './layout.ts';
import { hostPort, httpOk } from './probes.ts';
import type { ServiceDef } from './service-def.ts';

export function probeClickHouse(clickhouseUrl: string): Promise<boolean> {
  return httpOk(new URL('/ping', clickhouseUrl).toString(), (body) => body.trim() === 'Ok.');
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function clickhouseDef(cfg: Config, l: Layout): ServiceDef {
  const b = servicePaths('clickhouse', l);
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
