// `npm run infra -- up|down|status` (tsx infra/local/cli.ts ...): local infrastructure without Docker.
// Exit codes: 0 ok; 1 failure; status: 3 when any service is down or not ready (as LSB status does).
import { Command } from 'commander';
import { down, status, up, type DownResult, type StatusResult, type UpResult } from './services.ts';

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function statusTable(rows: StatusResult[]): string {
  return table(
    ['SERVICE', 'STATE', 'PID', 'READY', 'PORTS', 'ENDPOINT'],
    rows.map((r) => [
      r.name,
      r.state,
      r.pid === undefined ? '-' : String(r.pid),
      r.ready ? 'yes' : r.reachable ? 'no (port open)' : 'no',
      r.ports.join(','),
      r.endpoint,
    ]),
  );
}

function upTable(rows: UpResult[]): string {
  return table(
    ['SERVICE', 'ACTION', 'PID', 'TIME', 'ENDPOINT'],
    rows.map((r) => [
      r.name,
      r.action,
      r.pid === undefined ? '-' : String(r.pid),
      `${(r.ms / 1000).toFixed(1)}s`,
      r.endpoint,
    ]),
  );
}

function downTable(rows: DownResult[]): string {
  return table(
    ['SERVICE', 'ACTION', 'PID'],
    rows.map((r) => [r.name, r.action, r.pid === undefined ? '-' : String(r.pid)]),
  );
}

function fail(err: unknown): never {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

const program = new Command()
  .name('infra')
  .description('Local ClickHouse, Redis, Kafka and schema registry on 127.0.0.1 (data in $RANKSTREAM_DATA_DIR)');

program
  .command('up')
  .description('install if needed, then start every service that is not already answering')
  .action(async () => {
    const t0 = Date.now();
    try {
      const results = await up({ log: (l) => process.stdout.write(`${l}\n`) });
      process.stdout.write(`${upTable(results)}\nup in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
    } catch (err) {
      process.stderr.write(`up failed after ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
      fail(err);
    }
  });

program
  .command('down')
  .description('stop the services this tool started (never external ones)')
  .action(async () => {
    try {
      process.stdout.write(`${downTable(await down())}\n`);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('status')
  .description('show which services run, whether we own them, and whether they answer (exit 3 if any is not ready)')
  .action(async () => {
    try {
      const rows = await status();
      process.stdout.write(`${statusTable(rows)}\n`);
      if (rows.some((r) => !r.ready)) process.exitCode = 3;
    } catch (err) {
      fail(err);
    }
  });

await program.parseAsync(process.argv);
