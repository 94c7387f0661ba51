import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { asVigilError, vigilError } from '../errors.js';
import { cameraReviews } from '../events/reviews.js';
import { log } from '../log.js';
import type { AdaptationRecord } from '../model/folder/adaptation-record.js';
import { readManifest } from '../model/folder/model-folder.js';
import { SHIPPED_MODELS_DIR } from '../model/folder/paths.js';
import type { ModelVersion, Store } from '../store/index.js';
import { backgroundLabel, type Review } from '../train/adapt.js';
import type { AdaptStage } from '../train/adapt-model.js';
import { adaptInThread, type AdaptThread } from '../train/adapt-thread.js';
import type { CameraService } from './cameras.js';
import { redactPaths } from './http.js';
import type { ServerMessage, WireError } from './protocol.js';

export type AdaptJobState = 'running' | 'done' | 'failed';

/** What an adaptation gave: the new version, whether it passed the not-worse rule, and why. */
export interface AdaptResult {
  versionId: number;
  version: string;
  accepted: boolean;
  /** Whether it went live (accepted ones do). */
  live: boolean;
  /** One line: the figures on reviews not trained on, before → after, the replay check and the decision. */
  reason: string;
  record: AdaptationRecord;
}

/** A camera's adaptation job, as the API and the `adapt` messages show it. */
export interface AdaptJob {
  id: string;
  cameraId: string;
  model: string;
  state: AdaptJobState;
  stage?: AdaptStage;
  /** Judging: the cross-validation fold running, of `folds`. */
  fold?: number;
  folds?: number;
  /** ISO 8601. */
  startedAt: string;
  result?: AdaptResult;
  error?: WireError;
}

/** Where a camera's model stands: what runs, what was made, what is going on. */
export interface CameraModelView {
  model: string;
  /** What runs now: the shipped model (`versionId` null) or an adapted version. */
  live: { version: string; versionId: number | null; shipped: boolean };
  shipped: { version: string };
  versions: Array<Omit<ModelVersion, 'folder' | 'cameraId'>>;
  reviews: { usable: number; withoutClip: number; sinceAdapted: number; minimum: number };
  /** The running job, else the last one since the server started; null when none. */
  job: AdaptJob | null;
}

export interface AdaptJobs {
  /**
   * Starts adapting a camera's model (its first when none is named) from its reviews.
   * @throws VIGIL_ERR_NOT_FOUND (camera, or a model it does not run), VIGIL_ERR_CONFLICT (one
   *   runs for this camera), VIGIL_ERR_MODEL_NOT_ADAPTABLE, VIGIL_ERR_TOO_FEW_REVIEWS (with
   *   counts; checked here when the clips are missing or too few, else the job fails with it)
   */
  start(cameraId: string, model?: string): Promise<AdaptJob>;
  models(cameraId: string): Promise<CameraModelView[]>;
  /** Makes the version live before the current one live again, on the running camera too. @throws VIGIL_ERR_CONFLICT when the shipped one is live */
  rollback(cameraId: string, model: string): Promise<CameraModelView>;
  /** Stops running jobs (their partial folders are discarded). */
  close(): Promise<void>;
}

export interface AdaptJobsOptions {
  store: Store;
  cameras: CameraService;
  publish(msg: ServerMessage): void;
  /** The feature cache the jobs share. */
  cacheDir: string;
  minReviews: number;
}

let jobCount = 0;

/**
 * Adaptation jobs, one at a time per camera, each in a worker thread (adapt-thread.ts) so the
 * main thread keeps serving live cameras while tfjs trains. An accepted version goes live at
 * once, swapped into the running camera; a refused one is kept for the record, not live.
 */
export function createAdaptJobs(o: AdaptJobsOptions): AdaptJobs {
  const { store } = o;
  const running = new Map<string, { job: AdaptJob; thread?: AdaptThread; staged: string; done: Promise<void> }>();
  const last = new Map<string, AdaptJob>();
  let closing = false;

  const key = (cameraId: string, model: string) => `${cameraId}/${model}`;

  async function cameraOf(cameraId: string) {
    const camera = await store.cameras.get(cameraId);
    if (!camera) throw vigilError('VIGIL_ERR_NOT_FOUND', `camera ${cameraId}`);
    return camera;
  }

  async function modelOf(cameraId: string, model: string | undefined): Promise<string> {
    const camera = await cameraOf(cameraId);
    const name = model ?? camera.models[0];
    if (!camera.models.includes(name)) {
      throw vigilError('VIGIL_ERR_NOT_FOUND', `camera ${cameraId} does not run ${name} (it runs ${camera.models.join(', ')})`);
    }
    return name;
  }

  /** The folder the camera runs for the model: where an adaptation starts from. */
  const baseDir = async (cameraId: string, model: string) =>
    (await store.models.liveFolder(cameraId, model)) ?? join(SHIPPED_MODELS_DIR, model);

  const usable = (r: Review) => r.clip !== '' && existsSync(r.clip) && statSync(r.clip).size > 0;

  function send(job: AdaptJob): void {
    o.publish({
      type: 'adapt',
      cameraId: job.cameraId,
      model: job.model,
      job: job.id,
      state: job.state,
      ...(job.stage !== undefined ? { stage: job.stage } : {}),
      ...(job.fold !== undefined ? { fold: job.fold, folds: job.folds } : {}),
      ...(job.result ? { result: job.result } : {}),
      ...(job.error ? { error: job.error } : {}),
    });
  }

  function reasonOf(r: AdaptationRecord): string {
    const { before: b, after: a } = r;
    return (
      `on ${a.reviews} review(s), each judged by a fold that did not train on it: accuracy ${b.accuracy} → ${a.accuracy}, ` +
      `frame accuracy ${b.frameAccuracy} → ${a.frameAccuracy}, false alarms ${b.falseAlarms} → ${a.falseAlarms}, missed ${b.missed} → ${a.missed}` +
      (r.replayCheck ? `; held-back replay frame accuracy ${r.replayCheck.before} → ${r.replayCheck.after}` : '') +
      `: ${r.accepted ? 'accepted' : 'refused'} (${r.rule})`
    );
  }

  async function finish(job: AdaptJob, outcome: { record: AdaptationRecord; manifest: { version: string } }, staged: string) {
    const version = await store.models.add(staged, {
      cameraId: job.cameraId,
      model: job.model,
      version: outcome.manifest.version,
      accepted: outcome.record.accepted,
      record: outcome.record,
    });
    if (version.accepted) {
      await store.models.setLive(job.cameraId, job.model, version.id);
      await o.cameras.swapModel(job.cameraId, job.model);
    }
    job.result = {
      versionId: version.id,
      version: version.version,
      accepted: version.accepted,
      live: version.accepted,
      reason: reasonOf(outcome.record),
      record: outcome.record,
    };
  }

  async function view(cameraId: string, model: string): Promise<CameraModelView> {
    const shipped = readManifest(join(SHIPPED_MODELS_DIR, model));
    const live = await store.models.live(cameraId, model);
    let reviews: CameraModelView['reviews'] = { usable: 0, withoutClip: 0, sinceAdapted: 0, minimum: o.minReviews };
    try {
      const got = await cameraReviews(store, cameraId, shipped);
      reviews = {
        usable: got.reviews.filter(usable).length,
        withoutClip: got.withoutClip,
        sinceAdapted: got.sinceAdapted,
        minimum: o.minReviews,
      };
    } catch {
      // A model that cannot be adapted has no reviews to count (its POST says why).
    }
    const k = key(cameraId, model);
    return {
      model,
      live: live
        ? { version: live.version, versionId: live.id, shipped: false }
        : { version: shipped.version, versionId: null, shipped: true },
      shipped: { version: shipped.version },
      versions: (await store.models.list(cameraId, model)).map(({ folder: _f, cameraId: _c, ...v }) => v),
      reviews,
      job: running.get(k)?.job ?? last.get(k) ?? null,
    };
  }

  return {
    async start(cameraId, requested) {
      const refuse = () => {
        if (closing) throw vigilError('VIGIL_ERR_CONFLICT', 'the server is closing');
        // One per camera: two jobs would race to make their version live.
        const busy = [...running.values()].find((r) => r.job.cameraId === cameraId);
        if (busy) throw vigilError('VIGIL_ERR_CONFLICT', `camera ${cameraId} is adapting ${busy.job.model} already (job ${busy.job.id})`);
      };
      refuse();
      const model = await modelOf(cameraId, requested);
      const from = await baseDir(cameraId, model);
      const manifest = readManifest(from);
      const background = backgroundLabel(manifest);
      const { reviews } = await cameraReviews(store, cameraId, manifest);
      // Refused before a thread starts when it cannot work anyway; the job re-checks what
      // only features can tell (a stretch with no sampled frame).
      const present = reviews.filter(usable);
      if (present.length < o.minReviews) {
        const counts = manifest.classes.map((c) => `${present.filter((r) => r.label === c).length} ${c}`).join(', ');
        const skipped = reviews.length - present.length;
        throw vigilError(
          'VIGIL_ERR_TOO_FEW_REVIEWS',
          `${cameraId}: ${present.length} usable review(s) (${counts}), need at least ${o.minReviews}` +
            (skipped > 0 ? `; ${skipped} skipped (clip deleted by retention, or never recorded)` : '') +
            (present.some((r) => r.label === background) ? '' : `; false alarms teach ${background}`),
        );
      }
      // Again after the store's reads: another start may have taken the camera meanwhile. From
      // here to running.set nothing waits, so the check and the claim are one turn.
      refuse();
      const job: AdaptJob = {
        id: `adp_${Date.now().toString(36)}${(jobCount++).toString(36)}`,
        cameraId,
        model,
        state: 'running',
        startedAt: new Date().toISOString(),
      };
      const staged = store.stagingPath('');
      const thread = adaptInThread({
        baseDir: from,
        reviews,
        out: staged,
        cacheDir: o.cacheDir,
        camera: cameraId,
        minReviews: o.minReviews,
        log: (line) => log.info(`adapt ${cameraId}/${model}: ${line}`),
        onProgress(p) {
          job.stage = p.stage;
          job.fold = p.fold;
          job.folds = p.folds;
          send(job);
        },
      });
      const entry = { job, thread, staged, done: Promise.resolve() };
      entry.done = thread.result
        .then((outcome) => finish(job, outcome, staged))
        .then(
          () => {
            job.state = 'done';
          },
          (e: unknown) => {
            const err = asVigilError(e);
            if (err.code !== 'VIGIL_ERR_ABORTED') log.warn(`adapt ${cameraId}/${model}: ${err.code}: ${err.message}`);
            job.state = 'failed';
            // As HTTP answers are: no path of the server's disk.
            job.error = { code: err.code, message: redactPaths(err.message, [store.dataDir]) };
            if (existsSync(staged)) store.discard(staged);
          },
        )
        .finally(() => {
          running.delete(key(cameraId, model));
          last.set(key(cameraId, model), job);
          delete job.stage;
          delete job.fold;
          delete job.folds;
          if (!closing) send(job);
        });
      running.set(key(cameraId, model), entry);
      send(job);
      return { ...job };
    },
    async models(cameraId) {
      const views: CameraModelView[] = [];
      for (const m of (await cameraOf(cameraId)).models) views.push(await view(cameraId, m));
      return views;
    },
    async rollback(cameraId, requested) {
      const model = await modelOf(cameraId, requested);
      await store.models.rollback(cameraId, model);
      await o.cameras.swapModel(cameraId, model);
      return view(cameraId, model);
    },
    async close() {
      closing = true;
      await Promise.all(
        [...running.values()].map(async (r) => {
          await r.thread?.cancel();
          await r.done;
        }),
      );
    },
  };
}
