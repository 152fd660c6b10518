// Apicurio Registry (the Quarkus app install.sh fetches): readiness probe, start command (settings as -D properties).
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../config/config.ts';
import { findBin, jvmDirJavas, pickJava } from './executables.ts';
import { servicePaths, type Layout } from './layout.ts';
import { hostPort, httpOk } from './probes.ts';
import type { ServiceDef } from './service-def.ts';

export const REGISTRY_VERSION = '3.3.3';

export function probeRegistry(schemaRegistryUrl: string): Promise<boolean> {
  return httpOk(`${schemaRegistryUrl.replace(/\/+$/, '')}/subjects`);
}

export function registryDef(cfg: Config, l: Layout): ServiceDef {
  const b = servicePaths('registry', l);
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
