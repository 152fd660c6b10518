// What one local service is to the orchestrator (services.ts) and to the process control (processes.ts); each service
// module (clickhouse.ts, redis.ts, kafka.ts, registry.ts) builds one from the app config and the layout.
export const SERVICE_NAMES = ['clickhouse', 'redis', 'kafka', 'registry'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export type Log = (line: string) => void;

export interface Launch {
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
