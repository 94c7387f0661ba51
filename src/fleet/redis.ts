/**
 * The fleet's Redis connection. Its options are chosen for leases, not for throughput: a
 * command sent while Redis is away fails at once instead of waiting in ioredis' offline queue,
 * because a renewal or an acquire applied seconds late (after this node gave the camera up, or
 * after another node took it) would resurrect a lease nobody is running. The coordinator
 * treats such a failure as "Redis is down" and counts down its leases itself. Once started,
 * the client reconnects forever with a capped backoff; at start, an unreachable Redis is a
 * coded error at once, so a misconfigured node says so instead of hanging.
 */
import { Redis } from 'ioredis';
import { vigilError } from '../errors.js';
import { log } from '../log.js';
import { maskUrl } from '../sinks/options.js';

/**
 * @property [connectTimeoutMs=2000] how long the first connection may take before start fails
 * @property [commandTimeoutMs=2000] a command with no reply by then fails (a hung Redis is a down Redis)
 * @property [maxRetryDelayMs=2000] the longest wait between reconnect attempts after a loss
 * @property [name] the client name Redis shows in CLIENT LIST (e.g. the node id)
 * @property [log] where the one line per outage goes (default: vigil's log)
 */
export interface RedisConnectOptions {
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  maxRetryDelayMs?: number;
  name?: string;
  log?: { warn(msg: string): void };
}

/** First reconnect after 50 ms, doubling up to the cap: quick after a blip, gentle during an outage. */
export function retryDelay(attempt: number, maxRetryDelayMs: number): number {
  return Math.min(50 * 2 ** Math.max(0, attempt - 1), maxRetryDelayMs);
}

/**
 * Connects and waits until Redis answers. Rejects with VIGIL_ERR_FLEET naming Redis and the URL
 * (password masked) when it cannot; the failed client is disconnected so nothing keeps retrying.
 * The caller owns the client: `quit()` it when done.
 */
export async function connectRedis(url: string, options: RedisConnectOptions = {}): Promise<Redis> {
  const shown = maskUrl(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw vigilError('VIGIL_ERR_CONFIG', `Redis URL is not a URL: ${shown}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw vigilError('VIGIL_ERR_CONFIG', `Redis URL must start with redis:// or rediss://: ${shown}`);
  }
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 2000;
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    enableOfflineQueue: false,
    // In-flight commands fail when the connection drops rather than being resent after it
    // returns: the same late-resurrection hazard as the offline queue.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => retryDelay(attempt, maxRetryDelayMs),
    connectionName: options.name,
  });
  let lastError: Error | undefined;
  // Quiet until started (a failed start is the coded error instead), then one line per outage:
  // without a listener ioredis would print every failed reconnect to the console.
  let reported = true;
  client.on('error', (e: Error) => {
    lastError = e;
    if (!reported) (options.log ?? log).warn(`Redis at ${shown}: ${e.message}`);
    reported = true;
  });
  client.on('ready', () => (reported = false));
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    client.disconnect();
    const why = lastError?.message ?? (e instanceof Error ? e.message : String(e));
    throw vigilError('VIGIL_ERR_FLEET', `cannot reach Redis at ${shown}: ${why}`, lastError ?? e);
  }
  return client;
}
