// The suite's setup and command line: the processors under test, the faults it can inject, the ports of its own
// services, and the options (with the production's default duration, from what the faults take).
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { ProcessorName } from '../../apps/processors.ts';
import { REPO_ROOT } from '../../infra/local/services.ts';
import { DEFAULT_STREAM } from './generator.ts';

/** The event processors, one child process each (the catalogue processor has no part in this stream). */
export const PROCESSORS = [
  'ledger-writer',
  'features',
  'scaler',
  'als-fold-in',
  'ranker-trainer',
] as const satisfies readonly ProcessorName[];
export type SuiteProcessor = (typeof PROCESSORS)[number];

export const DEFAULT_FAULTS = [
  ...PROCESSORS.map((p) => `kill-${p}` as const),
  'restart-kafka',
  'restart-redis',
  'restart-clickhouse',
] as const;
/** Also available: the schema registry (its schemas are kept in an H2 file, so a restart keeps the ids). */
export const FAULTS = [...DEFAULT_FAULTS, 'restart-registry'] as const;
export type Fault = (typeof FAULTS)[number];

/** The suite's services: ports next to nothing the default set (1xxxx) or the app uses. */
export const PORTS = {
  kafka: 29092,
  registry: 28081,
  redis: 26379,
  clickhouseHttp: 28123,
  clickhouseTcp: 29000,
  processorHttpBase: 28201,
};

export interface Options {
  events: number;
  seed: number;
  tenants: number;
  invalidShare: number;
  duration: number;
  batch: number;
  faults: Fault[];
  serviceSignal: 'SIGKILL' | 'SIGTERM';
  /** Seconds a stopped service stays down before it is started again. */
  outage: number;
  keepServices: boolean;
  stopServices: boolean;
  out: string;
}

/**
 * Roughly how long the faults take on a 2-core machine, so that by default the production lasts as long: a killed
 * processor's partitions move on after the 30 s session timeout; Kafka takes ~25 s to start after a crash and its
 * consumers ~30 s more to rejoin; Redis and ClickHouse are back within seconds of their restart; the registry ~25 s.
 */
function expectedFaultSeconds(faults: readonly Fault[], outageS: number): number {
  const each = (f: Fault) =>
    f.startsWith('kill-')
      ? 35
      : f === 'restart-kafka'
        ? 60 + outageS
        : f === 'restart-registry'
          ? 30 + outageS
          : 10 + outageS;
  return Math.max(60, Math.round(faults.reduce((sum, f) => sum + each(f), 0) * 1.15));
}

const int = (name: string, min: number) => (v: string) => {
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
  return n;
};

function faultList(v: string): Fault[] {
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length === 1 && names[0] === 'none') return [];
  const bad = names.filter((n) => !(FAULTS as readonly string[]).includes(n));
  if (bad.length > 0)
    throw new InvalidArgumentError(
      `unknown fault(s) ${bad.join(', ')}; expected none or a list of ${FAULTS.join(', ')}`,
    );
  return names as Fault[];
}

export function parseOptions(): Options {
  const program = new Command('test:faults')
    .description(
      'Fault injection on dedicated local services: kill processors mid-batch, restart Kafka, Redis and ClickHouse while events stream; then check ledger, Redis and DLQ.',
    )
    .option('--events <n>', 'messages to produce (valid and invalid)', int('--events', 1), 1_000_000)
    .option('--quick', 'a smaller run: 100k messages (the same faults)')
    .option('--seed <n>', 'generator seed', int('--seed', 0), DEFAULT_STREAM.seed)
    .option('--tenants <n>', 'tenants in the stream', int('--tenants', 1), DEFAULT_STREAM.tenants)
    .option(
      '--invalid-share <x>',
      'share of invalid messages',
      (v) => {
        const x = Number(v);
        if (!(x >= 0 && x < 0.5)) throw new InvalidArgumentError('--invalid-share must be in [0, 0.5)');
        return x;
      },
      DEFAULT_STREAM.invalidShare,
    )
    .option(
      '--duration <s>',
      'spread the production over this many seconds (default: what the faults take, about 5 min; the last 10% slow down while faults are still to come)',
      int('--duration', 1),
    )
    .option('--batch <n>', 'messages per produce request', int('--batch', 1), 500)
    .option(
      '--faults <list>',
      `faults to inject, in order (default: ${DEFAULT_FAULTS.join(',')}; also restart-registry; or none)`,
      faultList,
      [...DEFAULT_FAULTS],
    )
    .option(
      '--service-signal <sig>',
      'how services are stopped before their restart: KILL (crash) or TERM (clean)',
      (v) => {
        if (v !== 'KILL' && v !== 'TERM') throw new InvalidArgumentError('KILL or TERM');
        return v;
      },
      'KILL',
    )
    .option(
      '--outage <s>',
      "seconds a stopped service stays down before its restart (the processors' retries run out meanwhile)",
      int('--outage', 0),
      5,
    )
    .option('--keep-services', "leave the suite's services running afterwards (faster next run)")
    .option('--stop-services', "only stop the suite's services (left by --keep-services) and exit")
    .option('--out <file>', 'where to write the JSON summary', path.join(REPO_ROOT, '.rankstream/faults/summary.json'))
    .parse();
  const o = program.opts<{
    events: number;
    quick?: boolean;
    seed: number;
    tenants: number;
    invalidShare: number;
    duration?: number;
    batch: number;
    faults: Fault[];
    serviceSignal: 'KILL' | 'TERM';
    outage: number;
    keepServices?: boolean;
    stopServices?: boolean;
    out: string;
  }>();
  const explicitEvents = program.getOptionValueSource('events') === 'cli';
  const events = o.quick && !explicitEvents ? 100_000 : o.events;
  return {
    events,
    seed: o.seed,
    tenants: o.tenants,
    invalidShare: o.invalidShare,
    duration: o.duration ?? expectedFaultSeconds(o.faults, o.outage),
    batch: o.batch,
    faults: o.faults,
    serviceSignal: o.serviceSignal === 'KILL' ? 'SIGKILL' : 'SIGTERM',
    outage: o.outage,
    keepServices: o.keepServices === true,
    stopServices: o.stopServices === true,
    out: o.out,
  };
}
