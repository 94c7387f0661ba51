import { z } from 'zod';
import { vigilError, type ErrorCode } from '../errors.js';
import type { Focus } from '../model/input/frame-encoder.js';
import type { EventChange, VigilEvent } from '../events/types.js';
import type { Segment } from '../timeline/types.js';
import type { AdaptStage } from '../train/adapt-model.js';
import { describeIssues } from '../validation.js';
import type { AdaptJobState, AdaptResult } from './adapt-jobs.js';

/**
 * The WebSocket protocol (docs/protocol.md). Bump on any change a client must
 * know about; the server says its version in `hello`.
 */
export const PROTOCOL_VERSION = 4;

/** `behind`: live, but the newest label lags the source by more than the bound (`limits.behindMs`). */
export type CameraState = 'starting' | 'live' | 'behind' | 'reconnecting' | 'waiting' | 'ended' | 'error' | 'stopped';

export interface WireError {
  code: ErrorCode;
  message: string;
}

/** One model of a camera: its own counts (see {@link CameraStatus}). */
export interface ModelStatus {
  model: string;
  /** The version it runs: the shipped one's, or one adapted to this camera (see docs/adaptation.md). */
  version: string;
  frames: number;
  dropped: number;
  gated: number;
}

export interface CameraStatus {
  cameraId: string;
  state: CameraState;
  /** Frames labelled since the camera started, by all its models (each model labels each frame it gets). */
  frames: number;
  /** Frames skipped on purpose because labelling was behind (newest frame wins). */
  dropped: number;
  /** Frames labelled without the CNN: too still to change anything (motion gating). */
  gated: number;
  /**
   * How far the newest labelled frame is behind the source's present, in ms, while
   * `live`/`behind` (see camera-runner.ts: `lagClock`); 0 otherwise.
   */
  lagMs: number;
  /** The last error, while `reconnecting` or `error`. */
  error?: WireError;
  /** When the next reconnect is tried (epoch ms), while `reconnecting`. */
  retryAtMs?: number;
  /** Each model's counts, in the camera's order, while it runs (the counts above are their sums). */
  models?: ModelStatus[];
}

export type ServerMessage =
  | { type: 'hello'; protocol: number; server: string; cameras: CameraStatus[] }
  | {
      type: 'label';
      cameraId: string;
      /** Which of the camera's models labelled it: each model streams its own labels (protocol 4). */
      model: string;
      /** The version of it that labelled the frame: the shipped one's or one adapted to this camera. */
      version: string;
      /** Stream time: increases for as long as the camera runs, across reconnects. */
      tMs: number;
      /** When the frame left the decoder (epoch ms). */
      wallMs: number;
      /**
       * When the source showed this frame (epoch ms; see `lagMs` of the status):
       * `Date.now() - sourceMs` is the latency a viewer feels.
       */
      sourceMs: number;
      /** Raw probabilities of this frame, by class. */
      probs: Record<string, number>;
      /** The smoothed, stable label and its smoothed probability. */
      label: string;
      confidence: number;
      /** Present while a backdating model's first label has not held yet: `label` is only the current leader. */
      provisional?: true;
      /**
       * Where the model looked (a `motioncrop` model): a square in fractions of the frame
       * letterboxed into a square (aspect kept, bars centred). Absent for whole-frame models.
       */
      focus?: Focus;
    }
  | {
      type: 'segment';
      cameraId: string;
      /** The model whose segment it is (protocol 4). */ model: string;
      event: 'start' | 'update' | 'end';
      segment: Segment;
    }
  | {
      type: 'event';
      /** The event's camera (routing, as on every camera message). */
      cameraId: string;
      change: EventChange['type'];
      event: VigilEvent;
    }
  | ({ type: 'status' } & CameraStatus)
  | {
      type: 'adapt';
      /** The camera whose model adapts (routing: the camera's subscribers get it). */
      cameraId: string;
      model: string;
      /** The job's id (`POST /api/cameras/:id/adapt` answers it). */
      job: string;
      state: AdaptJobState;
      /** While running: features, judging (with `fold` of `folds`, from 1), training (on every review), writing. */
      stage?: AdaptStage;
      fold?: number;
      folds?: number;
      /** When done: the version made, the figures, whether it went live. */
      result?: AdaptResult;
      /** When failed: why (VIGIL_ERR_TOO_FEW_REVIEWS with the counts, ...). */
      error?: WireError;
    }
  | { type: 'clip'; clipId: string; status: 'pending' | 'processing' | 'ready' | 'failed'; progress?: number; error?: WireError }
  | {
      type: 'subscribed';
      /**
       * `['*']` while the client receives every camera; otherwise which of the cameras this
       * message named it now receives (never the whole subscription).
       */
      cameras: string[];
      clips: boolean;
      /** Whether it receives the `event` messages of every camera (whatever `cameras` says). */
      events: boolean;
    }
  | { type: 'error'; code: ErrorCode; message: string };

const cameraList = z.union([z.literal('*'), z.array(z.string().max(64)).max(256)]);

const clientMessage = z.discriminatedUnion('type', [
  z
    .object({ type: z.literal('subscribe'), cameras: cameraList.optional(), clips: z.boolean().optional(), events: z.boolean().optional() })
    .strict(),
  z
    .object({
      type: z.literal('unsubscribe'),
      cameras: cameraList.optional(),
      clips: z.boolean().optional(),
      events: z.boolean().optional(),
    })
    .strict(),
]);

export type ClientMessage = z.infer<typeof clientMessage>;

/** @throws VIGIL_ERR_MESSAGE saying what is wrong */
export function parseClientMessage(text: string): ClientMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw vigilError('VIGIL_ERR_MESSAGE', 'not JSON');
  }
  const parsed = clientMessage.safeParse(raw);
  if (!parsed.success) throw vigilError('VIGIL_ERR_MESSAGE', `${describeIssues(parsed.error)} (known types: subscribe, unsubscribe)`);
  return parsed.data;
}
