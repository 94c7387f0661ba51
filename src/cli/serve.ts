import { Command, Option } from 'commander';
import { asVigilError } from '../errors.js';
import { log, setLogLevel } from '../log.js';
import type { ServerInput, VigilServer } from '../server/app.js';
import { list } from '../server/config.js';

/** How long a stop may take before the process gives up on a clean close. */
const STOP_DEADLINE_MS = 15_000;

interface ServeOptions {
  config?: string;
  host?: string;
  port?: number;
  data?: string;
  token?: string;
  demo: boolean;
  allowHost?: string[];
  allowOrigin?: string[];
  sources?: string[];
  workers?: number;
  fleet?: boolean;
  redis?: string;
  postgres?: string;
  role?: 'all' | 'worker' | 'api';
  nodeId?: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, ...list(value)];

export function serveCommand(): Command {
  return new Command('serve')
    .description('run the live service: cameras in, labels out over WebSocket, recordings, web UI')
    .option('-c, --config <file>', 'settings, cameras and sinks from a YAML or JSON file; flags and env win over it (env VIGIL_CONFIG)')
    .option('--host <host>', 'address to bind; beyond loopback a token is required (env VIGIL_HOST)', undefined)
    .option('-p, --port <port>', 'port; 0 picks a free one (env VIGIL_PORT) [8080]', (v) => Number(v))
    .option('-d, --data <dir>', 'database and clips (env VIGIL_DATA_DIR) [./vigil-data]')
    .option('--token <token>', 'access token for the API and WebSocket (env VIGIL_TOKEN)')
    .option(
      '--allow-host <names>',
      'more names the server answers to in Host, comma-separated or repeated; * any (env VIGIL_ALLOWED_HOSTS)',
      collect,
    )
    .option(
      '--allow-origin <origins>',
      'origins of other pages that may use the API and WebSockets, e.g. https://dash.example (env VIGIL_ALLOWED_ORIGINS)',
      collect,
    )
    .option(
      '--sources <list>',
      'what cameras may read: *, webcam, absolute folders, rtsp:// or rtsp://host[:port] ... (env VIGIL_SOURCES) [* on loopback]',
      collect,
    )
    .option(
      '--workers <n>',
      'inference worker threads for live cameras and clip jobs; 0 labels on the main thread (env VIGIL_WORKERS) [the cores]',
      (v) => Number(v),
    )
    .option('--no-demo', 'do not add the demo camera on a first start')
    .option('--fleet', 'run as one node of a fleet (docs/fleet.md); --redis, --role or --node-id imply it')
    .option('--redis <url>', "the fleet's Redis, redis://host:port (env VIGIL_REDIS_URL)")
    .option(
      '--postgres <url>',
      'keep the store in PostgreSQL, postgres://user:password@host/db, shared by a fleet; files stay in --data (env VIGIL_POSTGRES_URL)',
    )
    .addOption(
      new Option(
        '--role <role>',
        "in a fleet: worker runs cameras, api serves the fleet's cameras and labels (env VIGIL_ROLE) [all: both]",
      ).choices(['all', 'worker', 'api']),
    )
    .option('--node-id <id>', "in a fleet: this node's id, unique and stable across restarts (env VIGIL_NODE_ID) [host:port]")
    .action(async (o: ServeOptions) => {
      const { startServer } = await import('../server/app.js');
      // A service says what it does; -q still quiets it.
      if (!process.env.VIGIL_LOG_LEVEL && !process.argv.includes('-q') && !process.argv.includes('--quiet')) setLogLevel('info');
      const server = await startServer({
        configFile: o.config,
        host: o.host,
        port: o.port,
        dataDir: o.data,
        token: o.token,
        // Commander makes --no-demo's absence `true`: only the flag itself may win over the file.
        demo: o.demo === false ? false : undefined,
        allowedHosts: o.allowHost,
        allowedOrigins: o.allowOrigin,
        sources: o.sources,
        workers: o.workers,
        postgres: o.postgres,
        fleet: fleetInput(o),
      });
      process.stdout.write(`vigil: serving ${server.url}/ (data in ${server.config.dataDir}); Ctrl-C stops\n`);
      superviseProcess(server);
    });
}

/** `--fleet` alone is `{}`: the config file or the environment names the Redis. */
function fleetInput(o: ServeOptions): ServerInput['fleet'] {
  const given = { redis: o.redis, role: o.role, nodeId: o.nodeId };
  if (!o.fleet && Object.values(given).every((v) => v === undefined)) return undefined;
  return Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
}

/**
 * What ends the process, and how:
 * - SIGINT / SIGTERM: a clean stop (cameras, jobs, sockets, database), exit 0; a second
 *   signal, or a stop that takes past the deadline, exits 1 at once.
 * - An unhandled rejection is logged with its code and the server keeps serving: every
 *   request, camera and job has its own handler, so a promise nobody awaited is one
 *   operation that failed after its owner moved on, not damaged state.
 * - An uncaught exception unwound through code that did not expect it, so the state is
 *   unknown: it is logged, the server is closed as far as it goes within the deadline, and
 *   the process exits 1 for its supervisor to restart it.
 */
function superviseProcess(server: VigilServer): void {
  let stopping = false;
  const stop = (code: number, why: string) => {
    if (stopping) {
      log.error(`${why} while stopping: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log.info(`stopping (${why}): cameras, jobs, sockets`);
    const deadline = setTimeout(() => {
      log.error(`could not stop cleanly within ${STOP_DEADLINE_MS / 1000} s: exiting`);
      process.exit(1);
    }, STOP_DEADLINE_MS);
    deadline.unref();
    server
      .close()
      .catch((e) => {
        log.error(`stopping: ${asVigilError(e).code}: ${(e as Error).message}`);
        code = 1;
      })
      .finally(() => process.exit(code));
  };
  process.on('SIGINT', () => stop(0, 'SIGINT'));
  process.on('SIGTERM', () => stop(0, 'SIGTERM'));
  process.on('unhandledRejection', (e) => {
    const err = asVigilError(e);
    log.error(`unhandled rejection, still serving: ${err.code}: ${(e as Error)?.stack ?? err.message}`);
  });
  process.on('uncaughtException', (e) => {
    log.error(`uncaught exception, state unknown: ${asVigilError(e).code}: ${e.stack ?? e.message}`);
    stop(1, 'uncaught exception');
  });
}
