import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { vigilError } from '../../errors.js';
import { parseWith } from '../../validation.js';
import type { ModelManifest } from './manifest.js';

/**
 * A model's replay sample: short windows of the head's input features from its own training
 * data, kept in the model folder so that adapting the model to a camera (src/train/adapt.ts)
 * can keep rehearsing what it was trained on without the dataset, which a deployed machine
 * does not have. Features are quantised to a byte per value with a per-dimension range
 * (replay.bin), labels and ranges are in replay.json: about 1 MB for `fight`.
 */
export const REPLAY_JSON = 'replay.json';
export const REPLAY_BIN = 'replay.bin';
const SCHEMA = 'vigil.replay/1';

/** A replayed window: `labels.length` frames of `dim` features. Same shape as training's Sequence. */
export interface ReplaySequence {
  features: Float32Array;
  dim: number;
  labels: Int32Array;
}

const replaySchema = z
  .object({
    schema: z.literal(SCHEMA),
    dim: z.number().int().positive(),
    window: z.number().int().positive(),
    /** One label list (`window` long, -1 = unlabelled) per window. */
    labels: z.array(z.array(z.number().int().min(-1))),
    min: z.array(z.number()),
    step: z.array(z.number().nonnegative()),
  })
  .strict();

/**
 * Reads a folder's replay sample; none (an empty list) when it has no replay.json.
 * @throws VIGIL_ERR_MODEL_INVALID when it does not fit the manifest's head
 */
export function readReplay(dir: string, manifest: Pick<ModelManifest, 'head' | 'classes'>): ReplaySequence[] {
  const path = join(dir, REPLAY_JSON);
  if (!existsSync(path)) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw vigilError('VIGIL_ERR_MODEL_INVALID', `${path}: ${(e as Error).message}`);
  }
  const r = parseWith(replaySchema, raw, path, 'VIGIL_ERR_MODEL_INVALID');
  const bytes = readFileSync(join(dir, REPLAY_BIN));
  const { dim, window } = r;
  if (
    dim !== manifest.head.featureSize ||
    r.min.length !== dim ||
    r.step.length !== dim ||
    bytes.length !== r.labels.length * window * dim
  ) {
    throw vigilError('VIGIL_ERR_MODEL_INVALID', `${path}: replay sample does not fit the head (${manifest.head.featureSize} features)`);
  }
  return r.labels.map((labels, n) => {
    if (labels.length !== window || labels.some((l) => l >= manifest.classes.length))
      throw vigilError('VIGIL_ERR_MODEL_INVALID', `${path}: window ${n} has bad labels`);
    const features = new Float32Array(window * dim);
    const off = n * window * dim;
    for (let i = 0; i < features.length; i++) features[i] = r.min[i % dim] + bytes[off + i] * r.step[i % dim];
    return { features, dim, labels: Int32Array.from(labels) };
  });
}

/**
 * Writes a replay sample of `sequences` (the training side's, augmented copies included):
 * up to `perClass` windows of `window` frames for each class, centred where that class holds,
 * picked with the seeded `random`.
 */
export async function writeReplay(
  dir: string,
  sequences: readonly ReplaySequence[],
  o: { classes: number; perClass: number; window: number; random: () => number },
): Promise<number> {
  const dim = sequences[0].dim;
  const picked: { seq: ReplaySequence; start: number }[] = [];
  for (let c = 0; c < o.classes; c++) {
    const starts = sequences.flatMap((seq) => {
      if (seq.labels.length < o.window) return [];
      const at: number[] = [];
      for (let s = 0; s + o.window <= seq.labels.length; s += o.window) {
        let n = 0;
        for (let t = s; t < s + o.window; t++) if (seq.labels[t] === c) n++;
        if (n * 2 > o.window) at.push(s);
      }
      return at.map((start) => ({ seq, start }));
    });
    for (let i = 0; i < o.perClass && starts.length > 0; i++) picked.push(...starts.splice(Math.floor(o.random() * starts.length), 1));
  }
  const min = new Array<number>(dim).fill(Infinity);
  const max = new Array<number>(dim).fill(-Infinity);
  for (const { seq, start } of picked) {
    for (let i = start * dim; i < (start + o.window) * dim; i++) {
      min[i % dim] = Math.min(min[i % dim], seq.features[i]);
      max[i % dim] = Math.max(max[i % dim], seq.features[i]);
    }
  }
  const step = min.map((m, d) => (max[d] > m ? (max[d] - m) / 255 : 0));
  const bytes = new Uint8Array(picked.length * o.window * dim);
  picked.forEach(({ seq, start }, n) => {
    for (let i = 0; i < o.window * dim; i++) {
      const d = i % dim;
      const v = seq.features[start * dim + i];
      bytes[n * o.window * dim + i] = step[d] === 0 ? 0 : Math.round((v - min[d]) / step[d]);
    }
  });
  const labels = picked.map(({ seq, start }) => Array.from(seq.labels.subarray(start, start + o.window)));
  await writeFile(join(dir, REPLAY_BIN), bytes);
  await writeFile(join(dir, REPLAY_JSON), JSON.stringify({ schema: SCHEMA, dim, window: o.window, labels, min, step }) + '\n');
  return picked.length;
}
