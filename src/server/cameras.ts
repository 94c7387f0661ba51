import type { Readable } from 'node:stream';
import { asVigilError, vigilError } from '../errors.js';
import { log } from '../log.js';
import type { EventService } from '../events/service.js';
import type { CameraInput, CameraRecord, Store } from '../store/index.js';
import { assertCameraId, newCameraId } from '../store/ids.js';
import { checkCameraInput, publicCamera } from './camera-input.js';
import { startCameraRunner, type CameraRunner } from './camera-runner.js';
import type { ModelManifest } from '../model/folder/manifest.js';
import type { StreamLabeler } from '../model/live/stream-batcher.js';
import type { ModelPool } from './model-pool.js';
import type { Preview } from './preview.js';
import type { CameraStatus, ServerMessage } from './protocol.js';
import { createRecorder } from './recorder.js';
import { OPEN_SOURCES, sourceShape, type SourcePolicy } from './source-policy.js';

/** A camera's stored settings and where it stands now. */
export type CameraView = CameraRecord & { status: CameraStatus };

/** Cameras as the API sees them: stored settings plus a runner for each. */
export interface CameraService {
  list(): Promise<CameraView[]>;
  /** @throws VIGIL_ERR_NOT_FOUND */
  get(id: string): Promise<CameraView>;
  /** Checks the source and model, stores the camera and starts it. */
  create(input: CameraInput): Promise<CameraView>;
  /** Stores the change and restarts the camera. */
  update(id: string, patch: Partial<CameraInput>): Promise<CameraView>;
  remove(id: string): Promise<void>;
  /**
   * Every stored camera's status, oldest first. Synchronous for the WebSocket hub: it reads the
   * ids this service holds in memory (see `load`), kept as it creates and removes cameras.
   */
  statuses(): CameraStatus[];
  /** Reads the stored cameras' ids for `statuses` (server start, after the store has its declared cameras). */
  load(): Promise<void>;
  /**
   * A fleet on a shared store: the store's cameras as the placement just read them, with what
   * other nodes changed. New ids join `statuses`, removed ones leave it (the placement stops
   * them here), and a camera this node runs whose stored settings are newer than the ones it
   * started with restarts with them, in its turn. Returns at once.
   */
  sync(records: readonly CameraRecord[]): void;
  /** The running camera's JPEG preview. @throws VIGIL_ERR_NOT_FOUND, VIGIL_ERR_CONFLICT (not running) */
  preview(id: string): Preview;
  /** Feeds a webcam camera from a publisher's byte stream. */
  ingest(id: string, stream: Readable): void;
  /**
   * Makes a running camera label `model` with the version the store now has live for it
   * (see store.models), without restarting it (see CameraRunner.swap). A stopped camera runs
   * it when it next starts. @throws VIGIL_ERR_NOT_FOUND; the model's load errors
   */
  swapModel(id: string, model: string): Promise<void>;
  /**
   * Starts every stored camera (server start; it reloads the ids first, see `load`); in a
   * fleet, none: the placement runs them (see `run`).
   */
  startAll(): Promise<void>;
  /** Starts a stored camera unless it runs already (a fleet's placement gave it to this node). */
  run(id: string): Promise<void>;
  /** Stops a camera and leaves its stored settings alone (the placement took it elsewhere). */
  halt(id: string): Promise<void>;
  /** Server close: waits for queued and running operations, stops every camera; nothing starts after. */
  stopAll(): Promise<void>;
}

export interface CameraServiceOptions {
  store: Store;
  models: ModelPool;
  /** Called unbound, as a plain function. */
  publish: (msg: ServerMessage) => void;
  maxBackoffMs: number;
  /** Lag past which a live camera is `behind` (see camera-runner.ts) [behindMs=2000]. */
  behindMs?: number;
  /** Motion gating threshold (see `StreamOptions.gate`) [motionGate=0: off]. */
  motionGate?: number;
  /** Which sources a camera may read [sources=OPEN_SOURCES]. */
  sources?: SourcePolicy;
  /** Turns each camera's segments into events; none without it. */
  events?: EventService;
  /** Called once a deleted camera is stopped and out of the store (its MQTT topics are emptied). */
  onRemoved?: (id: string) => void;
  /**
   * Set when this node is one of a fleet: cameras run where the placement puts them (`run`,
   * `halt`). `status` is what the camera's worker last said, when another node runs it.
   * `declaredOnly`: the cameras are the config file's (each node has a store of its own,
   * SQLite), so the API neither adds, changes nor removes any; on a shared store (PostgreSQL)
   * it may, and the placement picks up what is stored.
   */
  fleet?: { status(id: string): CameraStatus | undefined; declaredOnly: boolean };
}

export function createCameraService(o: CameraServiceOptions): CameraService {
  const runners = new Map<string, CameraRunner>();
  // Cameras whose model could not load: the API must say what the socket said.
  const failed = new Map<string, CameraStatus>();
  // One owner per camera: create/start/stop/update/remove of an id run one after another,
  // so two requests can never both start a runner (the loser's ffmpeg would live on, unowned).
  const queues = new Map<string, Promise<void>>();
  // The stored cameras' ids, oldest first, for the synchronous `statuses` (the store's reads
  // are promises): cameras are added and removed only here, or before `load`/`startAll` by the
  // server (declared cameras, the demo); in a fleet every node declares the same ones.
  const known = new Set<string>();
  // The stored settings (their updatedAt) each camera of this node last started with, failed
  // starts included: on a shared store another node may change them (see `sync`).
  const startedWith = new Map<string, string>();
  let closing = false;

  function serial<T>(id: string, op: () => Promise<T>): Promise<T> {
    const result = (queues.get(id) ?? Promise.resolve()).then(op);
    const tail = result.then(
      () => {},
      () => {},
    );
    queues.set(id, tail);
    void tail.then(() => queues.get(id) === tail && queues.delete(id));
    return result;
  }

  function statusOf(id: string): CameraStatus {
    return (
      runners.get(id)?.status() ??
      failed.get(id) ??
      o.fleet?.status(id) ?? { cameraId: id, state: 'stopped', frames: 0, dropped: 0, gated: 0, lagMs: 0 }
    );
  }

  function view(record: CameraRecord): CameraView {
    return publicCamera({ ...record, status: statusOf(record.id) });
  }

  const check = <T extends Partial<CameraInput>>(input: T, current?: CameraRecord): T =>
    checkCameraInput(input, o.sources ?? OPEN_SOURCES, current);

  async function start(record: CameraRecord): Promise<void> {
    // Server closing: the stored change stands, the next start runs it.
    if (closing) return;
    startedWith.set(record.id, record.updatedAt);
    const opened: Array<{ manifest: ModelManifest; labeler: StreamLabeler }> = [];
    try {
      // A camera stored under a wider list than the one in force now stays stopped.
      (o.sources ?? OPEN_SOURCES).check(record.source, sourceShape(record.source));
      for (const name of record.models) {
        // The version adapted to this camera, when one is live; the pool takes its folder.
        const live = await o.models.live((await o.store.models.liveFolder(record.id, name)) ?? name);
        opened.push({ manifest: live.manifest, labeler: await live.open({ gate: o.motionGate }) });
      }
    } catch (e) {
      // The models that did open would hold a stream in their batcher or worker for nothing.
      for (const m of opened) m.labeler.close();
      const err = asVigilError(e);
      log.warn(`camera ${record.id}: ${err.code}: ${err.message}`);
      const status: CameraStatus = {
        cameraId: record.id,
        state: 'error',
        frames: 0,
        dropped: 0,
        gated: 0,
        lagMs: 0,
        error: { code: err.code, message: err.message },
      };
      failed.set(record.id, status);
      o.publish({ type: 'status', ...status });
      return;
    }
    // Before its first frame: what a dead runner left open ends once, ahead of new events.
    await o.events?.takeOver(record.id);
    // Every model labels the recordings (their timelines, their `events` labels).
    const recorder =
      record.record.mode === 'off'
        ? undefined
        : createRecorder({
            camera: record,
            store: o.store,
            manifests: opened.map((m) => m.manifest),
            publish: o.publish,
            clipReady: (clipId, recordedFor) => o.events?.clipReady(clipId, recordedFor),
          });
    // The runner owns the preview; each model's tracker asks it for a picture once the runner runs.
    const models = opened.map(({ manifest, labeler }) => ({
      manifest,
      labeler,
      events: o.events?.track({ cameraId: record.id, manifest, snapshot: () => runners.get(record.id)?.preview.latest() }),
    }));
    const runner = startCameraRunner(record, {
      models,
      publish: o.publish,
      maxBackoffMs: o.maxBackoffMs,
      behindMs: o.behindMs,
      recorder,
    });
    runners.set(record.id, runner);
  }

  async function stop(id: string): Promise<void> {
    const r = runners.get(id);
    runners.delete(id);
    failed.delete(id);
    startedWith.delete(id);
    await r?.stop();
  }

  async function must(id: string): Promise<CameraRecord> {
    const record = await o.store.cameras.get(id);
    if (!record) throw vigilError('VIGIL_ERR_NOT_FOUND', `camera ${id}`);
    return record;
  }

  /** In a fleet on per-node stores the cameras are the config file's: every node reads the same list. */
  function declaredOnly(what: string): void {
    if (o.fleet?.declaredOnly)
      throw vigilError('VIGIL_ERR_CONFLICT', `this node is one of a fleet: ${what} in the config file that every node reads`);
  }

  // Synchronous for the preview and ingest paths: the ids held in memory (see `known`).
  function running(id: string): CameraRunner {
    assertCameraId(id);
    if (!known.has(id)) throw vigilError('VIGIL_ERR_NOT_FOUND', `camera ${id}`);
    const r = runners.get(id);
    if (!r) throw vigilError('VIGIL_ERR_CONFLICT', `camera ${id} is not running`);
    return r;
  }

  const service: CameraService = {
    list: async () => (await o.store.cameras.list()).map(view),
    get: async (id) => view(await must(id)),
    create(input) {
      declaredOnly('add cameras');
      const checked = check(input);
      // The id before the write, so the write and the start take one turn of the id: a
      // request for the same id (a delete) waits for both, as when the write was synchronous.
      const id = checked.id ?? newCameraId();
      return serial(id, async () => {
        const record = await o.store.cameras.create({ ...checked, id });
        known.add(record.id);
        // In a fleet the placement starts it where it belongs.
        if (!o.fleet) await start(record);
        return view(record);
      });
    },
    update(id, patch) {
      return serial(id, async () => {
        // Looked up in turn, so a camera removed by an earlier request is 404 here; the
        // current record, as cross-field checks apply to the camera as it will be.
        const current = await must(id);
        declaredOnly('change cameras');
        const record = await o.store.cameras.update(id, check(patch, current));
        // In a fleet only the node running it (or whose start of it failed) restarts it.
        const here = startedWith.has(id);
        await stop(id);
        if (!o.fleet || here) await start(record);
        return view(record);
      });
    },
    remove(id) {
      return serial(id, async () => {
        await must(id);
        declaredOnly('remove cameras');
        await stop(id);
        await o.store.cameras.remove(id);
        known.delete(id);
        o.onRemoved?.(id);
      });
    },
    statuses: () => [...known].map((id) => statusOf(id)),
    async load() {
      const ids = (await o.store.cameras.list()).map((c) => c.id);
      known.clear();
      for (const id of ids) known.add(id);
    },
    sync(records) {
      const ids = new Set(records.map((r) => r.id));
      for (const id of known) if (!ids.has(id)) known.delete(id);
      for (const r of records) {
        known.add(r.id);
        const ran = startedWith.get(r.id);
        if (ran === undefined || ran === r.updatedAt) continue;
        serial(r.id, async () => {
          // Read in turn: a request here may have restarted it with these settings meanwhile.
          const now = await o.store.cameras.get(r.id);
          const was = startedWith.get(r.id);
          if (!now || was === undefined || was === now.updatedAt) return;
          log.info(`camera ${r.id}: changed on another node; restarting it with its new settings`);
          await stop(r.id);
          await start(now);
        }).catch((e: unknown) => log.warn(`camera ${r.id}: restarting it with its new settings: ${asVigilError(e).message}`));
      }
    },
    preview: (id) => running(id).preview,
    ingest: (id, stream) => running(id).ingest(stream),
    swapModel(id, model) {
      return serial(id, async () => {
        const record = await must(id);
        if (!record.models.includes(model)) throw vigilError('VIGIL_ERR_NOT_FOUND', `camera ${id} does not run ${model}`);
        const runner = runners.get(id);
        if (!runner) return;
        const live = await o.models.live((await o.store.models.liveFolder(id, model)) ?? model);
        const labeler = await live.open({ gate: o.motionGate });
        await runner.swap(model, { labeler, manifest: live.manifest });
      });
    },
    async startAll() {
      await service.load();
      if (o.fleet) return;
      for (const id of [...known]) {
        // Read in turn: a request may have changed, started or removed it meanwhile.
        await service.run(id);
      }
    },
    run(id) {
      return serial(id, async () => {
        const record = await o.store.cameras.get(id);
        if (record && !runners.has(id)) await start(record);
      });
    },
    halt(id) {
      return serial(id, () => stop(id));
    },
    async stopAll() {
      closing = true;
      // Behind whatever is queued or in flight; nothing queued after this can start a runner.
      const ids = new Set([...runners.keys(), ...queues.keys()]);
      await Promise.all([...ids].map((id) => serial(id, () => stop(id))));
    },
  };
  return service;
}
