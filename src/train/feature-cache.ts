import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { extractorEntry, loadExtractor } from '../model/extractors/registry.js';
import { createFrameEncoder, decodeSide, type InputMode } from '../model/input/frame-encoder.js';
import { inBatches } from '../video/batches.js';
import { openFrames } from '../video/decode.js';
import { augmentDecode, type AUGMENT_VARIANTS } from './augment.js';

/** What decides a clip's features: change any of it and the cache misses. */
export interface FeatureSpec {
  extractor: string;
  input: InputMode;
  fps: number;
  /** [augment=none] an augmented decode (a key of {@link AUGMENT_VARIANTS}), e.g. `flip`. */
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
  const pixels = createFrameEncoder({ mode: spec.input, scale: entry.pixelScale, offset: entry.pixelOffset, size: entry.inputSize, maxBatch: BATCH, owner: spec.extractor });
  const size = decodeSide(spec.input, entry.inputSize);
  const aug = spec.augment === undefined ? { filters: [], fpsScale: 1 } : augmentDecode(spec.augment);
  const tMs: number[] = [];
  const rows: Float32Array[] = [];
  for await (const batch of inBatches(openFrames(path, { fps: spec.fps * aug.fpsScale, width: size, height: size, filters: aug.filters }), BATCH)) {
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

/** The cache entry's name: the clip's content hash and the whole {@link FeatureSpec} (a plain spec keeps the key it had before augmentation existed). */
export function featureKey(contentHash: string, spec: FeatureSpec): string {
  return createHash('sha256')
    .update(JSON.stringify({ v: CACHE_VERSION, content: contentHash, ...spec }))
    .digest('hex')
    .slice(0, 32);
}

/**
 * Features on disk, keyed by the clip's content hash and the {@link FeatureSpec}, so a second
 * training run on the same data skips the CNN. Each entry stores a checksum of its floats;
 * a damaged entry is detected, reported through `onEvent`, and recomputed.
 */
export function createFeatureCache(dir: string, onEvent: (e: { type: 'hit' | 'miss' | 'corrupt'; path: string }) => void = () => {}) {
  return {
    async get(path: string, spec: FeatureSpec): Promise<ClipFeatures> {
      const key = featureKey(await fileHash(path), spec);
      const meta = join(dir, `${key}.json`);
      const data = join(dir, `${key}.f32`);
      if (existsSync(meta) && existsSync(data)) {
        try {
          const header = JSON.parse(await readFile(meta, 'utf8')) as { tMs: number[]; dim: number; sha256: string };
          const bytes = await readFile(data);
          if (createHash('sha256').update(bytes).digest('hex') === header.sha256 && bytes.byteLength === header.tMs.length * header.dim * 4) {
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
      await writeFile(`${meta}.tmp`, JSON.stringify({ source: path, ...spec, dim: clip.dim, tMs: clip.tMs, sha256: createHash('sha256').update(bytes).digest('hex') }));
      await rename(`${data}.tmp`, data);
      await rename(`${meta}.tmp`, meta);
      return clip;
    },
  };
}
