import { existsSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { vigilError } from '../errors.js';
import { createEventService, type EventService } from '../events/service.js';
import { joinFleet, type FleetNode } from '../fleet/node.js';
import { proxyPicture } from '../fleet/preview-proxy.js';
import { isRelayedMessage } from '../fleet/relay.js';
import { storedCameraIds } from '../fleet/stored-cameras.js';
import { createFleetJobQueue } from '../fleet/upload-queue.js';
import { log } from '../log.js';
import { describeEngine, selectEngine } from '../model/runtime/engine.js';
import { readManifest, resolveModelDir } from '../model/folder/model-folder.js';
import { alertLabels } from '../model/folder/manifest.js';
import { DEFAULT_MODEL, listModelNames, PACKAGE_ROOT } from '../model/folder/paths.js';
import { createSinks, parseSinksOptions, type CameraInfo, type Sinks, type SinksInput } from '../sinks/index.js';
import { openPgStore, openStore, type Store } from '../store/index.js';
import { SCHEMA_VERSION } from '../store/db.js';
import { PG_SCHEMA_VERSION } from '../store/pg/schema.js';
import { createAdaptJobs } from './adapt-jobs.js';
import { requireToken } from './auth.js';
import { createCameraService, type CameraService } from './cameras.js';
import { reconcileDeclaredCameras } from './declared-cameras.js';
import { FIXTURES_DIR, resolveConfig, type ServerConfig, type ServerConfigInput } from './config.js';
import { errorMiddleware, handle, keepPathPrivate } from './http.js';
import { createHub, type Hub } from './hub.js';
import { createJobQueue } from './jobs.js';
import { createModelPool } from './model-pool.js';
import { createOriginGuard } from './origin-guard.js';
import { PROTOCOL_VERSION } from './protocol.js';
import { adaptRouter } from './routes/adapt.js';
import { camerasRouter } from './routes/cameras.js';
import { clipsRouter } from './routes/clips.js';
import { eventsRouter } from './routes/events.js';
import { createSourcePolicy } from './source-policy.js';
import { createUpgradeHandler } from './upgrade.js';

/** The fixture the demo camera plays in a loop on a first start. */
export const DEMO_CLIP = join(FIXTURES_DIR, 'demo.mp4');
const WEB_DIR = join(PACKAGE_ROOT, 'src', 'web');
const RETENTION_EVERY_MS = 60_000;

/** What startServer takes: the server's settings and, apart from them, its sinks (see docs/sinks.md). */
export type ServerInput = ServerConfigInput & { sinks?: SinksInput };

/** A running vigil server. */
export interface VigilServer {
  /** `http://host:port` actually bound (port 0 resolved). */
  readonly url: string;
  readonly port: number;
  readonly config: ServerConfig;
  readonly store: Store;
  readonly cameras: CameraService;
  readonly hub: Hub;
  /** Events: `subscribe` to every change (start, update, end, review) as it happens. */
  readonly events: EventService;
  /** MQTT and webhooks: `sinks.publish(change)` queues an EventChange for each (none configured: a no-op). */
  readonly sinks: Sinks;
  /** This node's part in a fleet; undefined when the server runs alone (the default). */
  readonly fleet: FleetNode | undefined;
  /** Stops cameras and jobs, closes sockets, the database and the port. */
  close(): Promise<void>;
}

/**
 * Starts the live service: REST API, WebSocket hub at `/ws`, webcam ingest at
 * `/api/cameras/:id/ingest`, the web UI at `/`, every stored camera running.
 * @param input settings (see {@link resolveConfig}); `VIGIL_*` variables fill the rest.
 * @example
 *   const server = await startServer({ port: 0, dataDir: '/tmp/vigil' });
 *   console.log(server.url); // http://127.0.0.1:41873
 *   await server.close();
 */
export async function startServer(input: ServerInput = {}): Promise<VigilServer> {
  const { sinks: sinksInput, ...configInput } = input;
  const config = resolveConfig(configInput);
  // The sinks' settings: given to startServer (tests, embedding) or from the config file.
  const sinkOptions = parseSinksOptions(sinksInput ?? { mqtt: config.mqtt, webhooks: config.webhooks });
  const store = await openConfiguredStore(config);
  if (config.configFile) log.info(`settings from ${config.configFile}`);
  // Before anything else holds a resource, and before the demo: a store the file gave cameras
  // is not empty, so it gets no demo.
  try {
    await reconcileDeclaredCameras(store, config.cameras);
  } catch (e) {
    await store.close();
    throw e;
  }
  // No answer shows where the data lives.
  keepPathPrivate(config.dataDir);
  const models = createModelPool({ workers: config.workers });
  const hub = createHub({ heartbeatMs: config.heartbeatMs, maxQueue: config.limits.wsQueue, cameras: () => cameras.statuses() });
  const events = createEventService({ store, alertsFor: (id) => config.cameras.find((c) => c.id === id)?.alerts });
  // Set once the port is bound; camera states published before that have no sink to reach.
  let sinks: Sinks | undefined = undefined;
  // Set once joined: what this node's cameras say also goes to the fleet's API nodes.
  let fleet: FleetNode | undefined = undefined;
  let closing: Promise<void> | undefined;
  const publish: Hub['publish'] = (msg) => {
    hub.publish(msg);
    // Events only from a shared store: on per-node SQLite no other node could serve their page or snapshot.
    if (fleet && isRelayedMessage(msg) && (msg.type !== 'event' || store.kind === 'postgres')) fleet.relay(msg);
    if (msg.type === 'status') {
      sinks?.camerasChanged();
      sinks?.cameraStatus(msg.cameraId, msg.state);
    }
  };
  events.subscribe((c) => publish({ type: 'event', cameraId: c.event.cameraId, change: c.type, event: c.event }));
  const sources = createSourcePolicy(config.sources);
  const guard = createOriginGuard({ host: config.host, allowedHosts: config.allowedHosts, allowedOrigins: config.allowedOrigins });
  const cameras = createCameraService({
    store,
    models,
    publish,
    maxBackoffMs: config.maxBackoffMs,
    behindMs: config.limits.behindMs,
    motionGate: config.motionGate,
    sources,
    events,
    onRemoved: (id) => sinks?.cameraRemoved(id),
    fleet: config.fleet ? { status: (id) => fleet?.remoteStatus(id), declaredOnly: store.kind === 'sqlite' } : undefined,
  });
  // A fleet's uploads go on its shared queue, which any worker takes them from (docs/fleet.md).
  const fleetJobs = config.fleet ? createFleetJobQueue({ store, models, publish }) : undefined;
  const jobs = fleetJobs ?? createJobQueue({ store, models, publish });
  const adapt = createAdaptJobs({
    store,
    cameras,
    publish,
    // Features are a pure function of the clip and the model's input: shared with the CLI's cache when one is named.
    cacheDir: process.env.VIGIL_CACHE_DIR ? join(process.env.VIGIL_CACHE_DIR, 'features') : join(store.dataDir, 'cache', 'features'),
    minReviews: config.adapt.minReviews,
  });

  const app = express();
  app.disable('x-powered-by');
  // Before anything is served: a page of another site (or a rebound DNS name) gets nothing.
  app.use((req, _res, next) => {
    try {
      guard.check(req);
      next();
    } catch (e) {
      next(e);
    }
  });
  app.use(express.static(WEB_DIR, { index: 'index.html', dotfiles: 'deny' }));
  const api = express.Router();
  api.use(requireToken(config.token));
  // Uploads are video bodies: only the routes that take JSON parse JSON, so a video sent as
  // application/json gets the clips route's 415, not the JSON parser's 413.
  api.use('/clips', clipsRouter({ store, jobs, uploadBytes: config.limits.uploadBytes }));
  api.use(express.json({ limit: config.limits.jsonBytes }));
  api.get(
    '/status',
    handle(async (_req, res) => {
      res.json({
        server: 'vigil',
        protocol: PROTOCOL_VERSION,
        engine: describeEngine(await selectEngine()),
        models: models.loaded(),
        workers: models.workers(),
        cameras: cameras.statuses(),
        sinks: sinks?.statuses() ?? [],
        clients: hub.clients,
        jobsWaiting: jobs.waiting,
        fleet: fleet ? { node: fleet.id, roles: fleet.roles } : null,
      });
    }),
  );
  api.get(
    '/models',
    handle((_req, res) => {
      res.json({
        models: listModelNames().map((name) => {
          const m = readManifest(resolveModelDir(name));
          return {
            name,
            version: m.version,
            description: m.description,
            classes: m.classes,
            alerts: alertLabels(m),
            fps: m.fps,
            default: name === DEFAULT_MODEL,
          };
        }),
      });
    }),
  );
  api.use('/cameras', adaptRouter(adapt));
  api.use(
    '/cameras',
    camerasRouter(cameras, config.fleet ? (id, file, res) => proxyPicture(fleet!, config.token, id, file, res) : undefined),
  );
  api.use('/events', eventsRouter({ store, events }));
  api.get(
    '/fleet',
    handle(async (_req, res) => {
      if (!fleet) throw vigilError('VIGIL_ERR_NOT_FOUND', 'this server runs alone, not as one node of a fleet (vigil serve --fleet)');
      res.json(await fleet.view());
    }),
  );
  api.use(
    handle(() => {
      throw vigilError('VIGIL_ERR_NOT_FOUND', 'no such API path');
    }),
  );
  app.use('/api', api);
  app.use(errorMiddleware);

  const http: Server = createHttpServer(app);
  const upgrades = createUpgradeHandler({
    guard,
    token: config.token,
    hub,
    cameras,
    wsMessageBytes: config.limits.wsMessageBytes,
    ingestMessageBytes: config.limits.ingestMessageBytes,
  });
  http.on('upgrade', (req, socket, head) => upgrades.handle(req, socket, head));

  // The port first: a server that cannot listen must not have started cameras and jobs.
  try {
    // The ids the hub's synchronous statuses read, before any client can ask (see CameraService.load).
    await cameras.load();
    await new Promise<void>((done, fail) => {
      http.once('error', (e: NodeJS.ErrnoException) =>
        fail(vigilError('VIGIL_ERR_CONFIG', `cannot listen on ${config.host}:${config.port}: ${e.code ?? e.message}`)),
      );
      http.listen(config.port, config.host, done);
    });
  } catch (e) {
    hub.close();
    await store.close();
    throw e;
  }
  const port = (http.address() as AddressInfo).port;

  // Crash leftovers first: clips a crash left mid-labelling are labelled again.
  const pending = (await store.clips.list({ kind: 'upload', status: 'pending', limit: 1000 })).reverse();
  // In a fleet, only those the shared queue lost (see FleetJobQueue.requeue).
  if (fleetJobs) fleetJobs.requeue(pending.map((c) => ({ id: c.id, model: c.model ?? DEFAULT_MODEL })));
  else for (const clip of pending) jobs.add(clip.id, clip.model ?? DEFAULT_MODEL);
  const retention = async () => {
    try {
      const maxAgeMs = config.retention.maxAgeHours * 3_600_000;
      const removed = await store.applyRetention({ maxAgeMs, maxBytes: config.retention.maxBytes });
      if (removed.length > 0) log.info(`retention removed ${removed.length} recordings`);
      const pruned = await store.events.prune({ beforeMs: Date.now() - maxAgeMs, keep: config.retention.maxEvents });
      if (pruned.length > 0) log.info(`retention removed ${pruned.length} events`);
    } catch (e) {
      log.warn(`retention: ${(e as Error).message}`);
    }
  };
  // Never rejects (it logs); runs alongside the start as it did when it was synchronous.
  void retention();
  const retentionTimer = setInterval(() => void retention(), RETENTION_EVERY_MS);
  retentionTimer.unref();

  // After the port: a server that cannot listen has no broker connection to undo.
  const liveSinks = await createSinks({
    options: sinkOptions,
    outbox: store.outbox,
    cameras: () => cameraInfos(store),
    snapshotPath: async (e) => (e.snapshot ? await store.events.snapshotPath(e.id) : null),
  });
  liveSinks.attach(events);
  sinks = liveSinks;

  log.info(`cameras may read: ${sources.describe()}`);
  if (config.fleet) {
    // The placement starts the cameras, from the next interval on (see the coordinator): on
    // SQLite the config file's (every node declares the same), on PostgreSQL the shared store's.
    const declared = config.cameras.map((c) => c.id);
    // On PostgreSQL, with what other nodes added, changed or removed, to this node's statuses and runners.
    const stored = storedCameraIds(store, (records) => cameras.sync(records));
    try {
      fleet = await joinFleet({
        config: config.fleet,
        host: config.host,
        port,
        schema: store.kind === 'postgres' ? PG_SCHEMA_VERSION : SCHEMA_VERSION,
        store: store.kind,
        cameras: store.kind === 'postgres' ? stored : () => declared,
        run: (id) => cameras.run(id),
        halt: (id) => cameras.halt(id),
        deliver: (msg) => hub.publish(msg),
        statuses: () => cameras.statuses(),
        jobs: fleetJobs?.handlers,
      });
      fleetJobs?.attach(fleet.jobs);
    } catch (e) {
      await closeAll();
      throw e;
    }
  } else {
    await seedDemo(config, store);
    await cameras.startAll();
  }
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;

  function closeAll(): Promise<void> {
    closing ??= (async () => {
      clearInterval(retentionTimer);
      hub.close();
      upgrades.close();
      // Jobs first: a finishing adaptation would swap a model into a camera being stopped.
      await adapt.close();
      // The fleet's cameras are stopped before their leases go, so no other node runs one meanwhile.
      await fleet?.close();
      await Promise.all([cameras.stopAll(), jobs.close()]);
      // After the cameras: the events their stop ended are queued before delivery stops.
      await liveSinks.close();
      await new Promise<void>((done) => {
        http.close(() => done());
        http.closeAllConnections();
      });
      await models.close();
      await store.close();
    })();
    return closing;
  }
  return {
    url,
    port,
    config,
    store,
    cameras,
    hub,
    events,
    sinks: liveSinks,
    get fleet() {
      return fleet;
    },
    close: closeAll,
  };
}

/**
 * SQLite in the data directory, or with `postgres` set the PostgreSQL store, its files in the
 * data directory (a fleet's shared volume) and its staging under this node's id: the fleet's
 * (`fleet.nodeId`), else the id a fleet node would take (host:port), else host-pid for port 0.
 */
async function openConfiguredStore(config: ServerConfig): Promise<Store> {
  if (!config.postgres) return openStore(config.dataDir);
  const nodeId = config.fleet?.nodeId ?? (config.port !== 0 ? `${hostname()}:${config.port}` : `${hostname()}-${process.pid}`);
  return openPgStore({ url: config.postgres, dataDir: config.dataDir, nodeId });
}

/**
 * What the MQTT sink announces to Home Assistant: each camera with its model's alert classes.
 * Until manifests name their alerts, those are the classes other than the `no_*` ones.
 */
async function cameraInfos(store: Store): Promise<CameraInfo[]> {
  const labels = new Map<string, string[]>();
  const alertsOf = (model: string) => {
    let found = labels.get(model);
    if (!found) {
      try {
        found = [...alertLabels(readManifest(resolveModelDir(model)))];
      } catch {
        found = []; // a model gone from disk: the camera is announced without sensors
      }
      labels.set(model, found);
    }
    return found;
  };
  // A two-model camera is one device with a sensor per alert of each model.
  return (await store.cameras.list()).map((c) => ({
    id: c.id,
    name: c.name,
    models: c.models,
    labels: [...new Set(c.models.flatMap((m) => alertsOf(m)))],
  }));
}

/**
 * A first start gets one camera playing a shipped clip, so the UI has something live; a
 * marker file remembers it was offered, so a user who deletes it is not given it back.
 */
async function seedDemo(config: ServerConfig, store: Store): Promise<void> {
  const marker = join(config.dataDir, '.demo-offered');
  if (!config.demo || existsSync(marker)) return;
  if ((await store.cameras.list()).length === 0 && existsSync(DEMO_CLIP)) {
    await store.cameras.create({
      id: 'demo',
      name: 'Demo (fixture clip, looped)',
      source: DEMO_CLIP,
      model: DEFAULT_MODEL,
      fps: null,
      loop: true,
      record: { mode: 'off' },
    });
    log.info(`added camera "demo" playing ${DEMO_CLIP}`);
  }
  writeFileSync(marker, '');
}
