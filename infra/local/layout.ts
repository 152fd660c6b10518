// Where the local services' files live. Layout (all under $DATA, default <repo>/.rankstream):
//   dist/<pkg>/          downloaded jars (install.sh)       conf/<svc>/   generated config files
//   <svc>/               service data                        logs/<svc>.log  stdout+stderr of the process
//   run/<svc>.pid        PID of the process we started       run/up.lock     serialises concurrent up() calls
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../../config/config.ts';
import type { ServiceDef, ServiceName } from './service-def.ts';

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

/** The per-service paths of the layout: conf/<svc>/, <svc>/, logs/<svc>.log, run/<svc>.pid. */
export function servicePaths(
  name: ServiceName,
  l: Layout,
): Pick<ServiceDef, 'confDir' | 'dataDir' | 'logFile' | 'pidFile'> {
  return {
    confDir: path.join(l.dataDir, 'conf', name),
    dataDir: path.join(l.dataDir, name),
    logFile: path.join(l.logDir, `${name}.log`),
    pidFile: path.join(l.runDir, `${name}.pid`),
  };
}
