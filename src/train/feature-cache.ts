import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { extractorEngine, extractorEntry, loadExtractor } from '../model/extractors/registry.js';
import { extractorWeightsHash } from '../model/extractors/weights-hash.js';
import { openModelFrames } from '../model/frames.js';
import { createFrameEncoder, type InputMode } from '../model/input/frame-encoder.js';
import { MOTION_CROP } from '../model/input/motion-crop.js';
import { selectEngine } from '../model/runtime/engine.js';
import { inBatches } from '../video/batches.js';
import { resolveFfmpeg } from '../video/ffmpeg.js';
import { augmentDecode } from './augment.js';

/** What decides a clip's features: change any of it and the cache misses. */
export interface FeatureSpec {
  extractor: string;
  input: InputMode;
  fps: number;
  /** [augment=none] an augmented decode (a key of `AUGMENT_VARIANTS` in augment.ts), e.g. `flip`. */
  augment?: string;
}

export interface ClipFeatures {
  /** Stream timestamps of the sampled frames. */
  tMs: number[];
  /** `tMs.length * dim` floats, a row per frame. */
  features: Float32Array;
  dim: number;
}

const CACHE_VERSION = 1;
const BATCH = 8;

async function fileHash(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Decodes a clip and runs the extractor over it, exactly as the labeler does live (plus the spec's augmentation, if any). */
export async function computeClipFeatures(path: string, spec: FeatureSpec): Promise<ClipFeatures> {
  const entry = extractorEntry(spec.extractor);
  const extractor = await loadExtractor(spec.extractor);
  const pixels = createFrameEncoder({
    mode: spec.input,
    scale: entry.pixelScale,
    offset: entry.pixelOffset,
    size: entry.inputSize,
    maxBatch: BATCH,
    owner: spec.extractor,
  });
  const aug = spec.augment === undefined ? { filters: [], fpsScale: 1 } : augmentDecode(spec.augment);
  const tMs: number[] = [];
  const rows: Float32Array[] = [];
  // Decoded as a model with this extractor and input decodes (frames.ts), before the model exists.
  const frames = openModelFrames({ input: spec.input, inputSize: entry.inputSize, fps: spec.fps * aug.fpsScale }, path, {
    filters: aug.filters,
  });
  for await (const batch of inBatches(frames, BATCH)) {
    for (const f of batch) tMs.push(f.tMs);
    rows.push((await extractor.extract(pixels.encode(batch), batch.length)).slice());
  }
  const features = new Float32Array(tMs.length * extractor.featureSize);
  let at = 0;
  for (const r of rows) {
    features.set(r, at);
    at += r.length;
  }
  return { tMs, features, dim: extractor.featureSize };
}

/**
 * What else decides a clip's features, outside the spec: the code and binaries that turn
 * pixels into them. Any of them changing silently would train on stale features.
 */
export interface FeatureProvenance {
  /** Hash of the extractor's weight files (see weights-hash.ts). */
  weights: string;
  /** ffmpeg's version string: another build may scale and letterbox differently. */
  ffmpeg: string;
  /** The engine the extractor runs on (`ort 1.30.0`, `tfjs wasm`): their kernels round differently. */
  engine: string;
  /** The motion-crop constants, for `motioncrop` input only. */
  motionCrop?: Readonly<Record<string, number>>;
}

/** The {@link FeatureProvenance} of a spec on this machine; the weights' hash is computed once per process. */
export async function featureProvenance(spec: FeatureSpec): Promise<FeatureProvenance> {
  const [weights, { ffmpeg }, choice] = await Promise.all([extractorWeightsHash(spec.extractor), resolveFfmpeg(), selectEngine()]);
  const engine = extractorEngine(spec.extractor, choice) === 'ort' ? `ort ${choice.ort?.version}` : `tfjs ${choice.tfjs.name}`;
  return { weights, ffmpeg: ffmpeg.version, engine, ...(spec.input === 'motioncrop' ? { motionCrop: { ...MOTION_CROP } } : {}) };
}

/**
 * The cache entry's name: the clip's content hash, the whole {@link FeatureSpec} (an absent
 * `augment` is the plain decode) and the {@link FeatureProvenance}.
 */
export function featureKey(contentHash: string, spec: FeatureSpec, provenance: FeatureProvenance): string {
  return createHash('sha256')
    .update(JSON.stringify({ v: CACHE_VERSION, content: contentHash, ...spec, ...provenance }))
    .digest('hex')
    .slice(0, 32);
}

/**
 * Features on disk, keyed by {@link featureKey}, so a second training run on the same data
 * skips the CNN. Each entry stores a checksum of its floats; a damaged entry is detected,
 * reported through `onEvent`, and recomputed.
 * @param [o.provenance=featureProvenance] tests stand in another extractor, ffmpeg or crop.
 */
export function createFeatureCache(
  dir: string,
  onEvent: (e: { type: 'hit' | 'miss' | 'corrupt'; path: string }) => void = () => {},
  o: { provenance?: (spec: FeatureSpec) => Promise<FeatureProvenance> } = {},
) {
  const provenanceOf = o.provenance ?? featureProvenance;
  return {
    async get(path: string, spec: FeatureSpec): Promise<ClipFeatures> {
      const provenance = await provenanceOf(spec);
      const key = featureKey(await fileHash(path), spec, provenance);
      const meta = join(dir, `${key}.json`);
      const data = join(dir, `${key}.f32`);
      if (existsSync(meta) && existsSync(data)) {
        try {
          const header = JSON.parse(await readFile(meta, 'utf8')) as { tMs: number[]; dim: number; sha256: string };
          const bytes = await readFile(data);
          if (
            createHash('sha256').update(bytes).digest('hex') === header.sha256 &&
            bytes.byteLength === header.tMs.length * header.dim * 4
          ) {
            onEvent({ type: 'hit', path });
            const features = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
            return { tMs: header.tMs, dim: header.dim, features };
          }
        } catch {
          // fall through: unreadable header counts as corrupt
        }
        onEvent({ type: 'corrupt', path });
      } else {
        onEvent({ type: 'miss', path });
      }
      const clip = await computeClipFeatures(path, spec);
      const bytes = Buffer.from(clip.features.buffer, clip.features.byteOffset, clip.features.byteLength);
      await mkdir(dir, { recursive: true });
      // Write then rename: a killed run never leaves a half entry that looks whole.
      await writeFile(`${data}.tmp`, bytes);
      await writeFile(
        `${meta}.tmp`,
        JSON.stringify({
          source: path,
          ...spec,
          ...provenance,
          dim: clip.dim,
          tMs: clip.tMs,
          sha256: createHash('sha256').update(bytes).digest('hex'),
        }),
      );
      await rename(`${data}.tmp`, data);
      await rename(`${meta}.tmp`, meta);
      return clip;
    },
  };
}
