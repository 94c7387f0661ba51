// Research probe, not product code: MobileNetV2 spatial feature maps of the fight clips,
// cached per clip, for trying what the head sees (pooling, layers, input gain) without the
// product's extractor registry. See README.md in this folder.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadMobileNetV2Layers } from '../../src/model/extractors/mobilenet-v2.js';
import { createFrameEncoder, INPUT_MODES, type FrameEncoder, type InputMode } from '../../src/model/input/frame-encoder.js';
import { convertLayersModel } from '../../src/model/runtime/onnx/convert.js';
import { createSession } from '../../src/model/runtime/onnx/runtime.js';
import { readClipFolders } from '../../src/train/clip-folders.js';
import { readGroupsFile } from '../../src/train/groups.js';
import { inBatches } from '../../src/video/batches.js';
import { openFrames } from '../../src/video/decode.js';

export const DATASET = '../shared/datasets/fight-surveillance';

/** Probe-only temporal encodings of the CNN input (see {@link createProbeEncoder}). */
export const PROBE_INPUTS = ['gray3', 'graydiff3', 'mhi'] as const;
export type ProbeInput = (typeof PROBE_INPUTS)[number];
/** Every `--input` the probes take: the product's modes, then the probe-only ones. */
export const INPUTS = [...INPUT_MODES, ...PROBE_INPUTS] as const;
export type Input = InputMode | ProbeInput;

export interface MapSpec {
  /** A MobileNetV2 layer with a [S, S, C] output, e.g. `out_relu` (7x7x1280). */
  layer: string;
  input: Input;
  /** Pixels times this, clipped to 1: brighter differences (meant for the motion inputs). */
  gain: number;
  fps: number;
}

export interface ClipMaps {
  id: string;
  group: string;
  /** Class index in `classes`. */
  label: number;
  frames: number;
  positions: number;
  channels: number;
  /** frames x positions x channels. */
  data: Float32Array;
}

const SIZE = 224;
const MHI_DECAY = 0.7;

/**
 * Grey-level temporal encodings, one 224x224 RGB frame in, three channels out in [0, 1]
 * (`scale` is gain/255, clipped to 1 here so the MHI recursion stays in range). They put time
 * into the colour channels, so the ImageNet CNN sees where and how things move in one image:
 * - `gray3`: R, G, B = g(t), g(t-1), g(t-2); static areas grey, moving ones coloured.
 * - `graydiff3`: |g(t) - g(t-1)|, |g(t-1) - g(t-2)|, |g(t-2) - g(t-3)|.
 * - `mhi`: motion history m(t) = max(|g(t) - g(t-1)| * scale, 0.7 m(t-1)) in all three
 *   channels: the motion with a fading trail.
 * g = 0.299 R + 0.587 G + 0.114 B. Missing history repeats the first frame, so a clip starts
 * as "no motion", like `framediff`.
 */
function createProbeEncoder(mode: ProbeInput, scale: number) {
  const n = SIZE * SIZE;
  // g(t), g(t-1), g(t-2), g(t-3), rotated in place: no per-frame allocation.
  const hist = Array.from({ length: 4 }, () => new Float32Array(n));
  const mhi = new Float32Array(n);
  let started = false;
  return {
    encode(rgb: Uint8Array, out: Float32Array, at: number): void {
      const g = hist.pop()!;
      for (let i = 0; i < n; i++) g[i] = 0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2];
      hist.unshift(g);
      if (!started) for (let k = 1; k < hist.length; k++) hist[k].set(g);
      started = true;
      const [g0, g1, g2, g3] = hist;
      for (let i = 0, o = at; i < n; i++, o += 3) {
        if (mode === 'gray3') {
          out[o] = Math.min(g0[i] * scale, 1);
          out[o + 1] = Math.min(g1[i] * scale, 1);
          out[o + 2] = Math.min(g2[i] * scale, 1);
        } else if (mode === 'graydiff3') {
          out[o] = Math.min(Math.abs(g0[i] - g1[i]) * scale, 1);
          out[o + 1] = Math.min(Math.abs(g1[i] - g2[i]) * scale, 1);
          out[o + 2] = Math.min(Math.abs(g2[i] - g3[i]) * scale, 1);
        } else {
          mhi[i] = Math.min(Math.max(Math.abs(g0[i] - g1[i]) * scale, MHI_DECAY * mhi[i]), 1);
          out[o] = out[o + 1] = out[o + 2] = mhi[i];
        }
      }
    },
    reset(): void {
      started = false;
      mhi.fill(0);
    },
  };
}

/** The product's frame encoder for its own modes; the same batching around a probe encoder otherwise. */
function frameEncoder(input: Input, scale: number): FrameEncoder {
  if ((INPUT_MODES as readonly string[]).includes(input)) {
    return createFrameEncoder({ mode: input as InputMode, scale, offset: 0, size: SIZE, maxBatch: 8, owner: 'probe' });
  }
  const encoder = createProbeEncoder(input as ProbeInput, scale);
  const pixels = new Float32Array(8 * SIZE * SIZE * 3);
  return {
    encode(frames) {
      frames.forEach((f, i) => encoder.encode(f.data, pixels, i * SIZE * SIZE * 3));
      return pixels.subarray(0, frames.length * SIZE * SIZE * 3);
    },
    reset: () => encoder.reset(),
    focus: () => undefined,
  };
}

function cacheDir(s: MapSpec): string {
  return join('.cache/probe-maps', `${s.layer}-${s.input}${s.gain === 1 ? '' : `x${s.gain}`}-${s.fps}`);
}

/** Extracts (once) and loads the maps of every fight clip. */
export async function loadMaps(
  spec: MapSpec,
  log: (line: string) => void = console.log,
): Promise<{ classes: string[]; clips: ClipMaps[] }> {
  // Before the cache folder is made, so a mistyped input leaves none behind.
  if (!(INPUTS as readonly string[]).includes(spec.input)) throw new Error(`--input ${spec.input}: one of ${INPUTS.join(', ')}`);
  const { clips, classes } = readClipFolders(DATASET);
  const groups = readGroupsFile(join(DATASET, 'videos.txt'));
  const dir = cacheDir(spec);
  mkdirSync(dir, { recursive: true });
  const missing = clips.filter((c) => !existsSync(join(dir, `${c.id}.json`)));
  if (missing.length > 0) {
    const layers = await loadMobileNetV2Layers();
    const { model } = layers;
    const cut = tf.model({ inputs: model.inputs, outputs: model.getLayer(spec.layer).output });
    const session = createSession(convertLayersModel(cut, { inputNames: ['pixels'], outputNames: ['map'] }), { threads: 2 });
    layers.dispose();
    const started = Date.now();
    for (const [n, c] of missing.entries()) {
      const encoder = frameEncoder(spec.input, spec.gain / 255);
      const parts: Float32Array[] = [];
      let frames = 0;
      for await (const batch of inBatches(openFrames(c.path, { fps: spec.fps, width: SIZE, height: SIZE }), 8)) {
        const px = encoder.encode(batch);
        if (spec.gain !== 1) for (let i = 0; i < px.length; i++) px[i] = Math.min(px[i], 1);
        parts.push(session.run({ pixels: { data: px, dims: [batch.length, SIZE, SIZE, 3] } }).map.slice());
        frames += batch.length;
      }
      const data = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      parts.reduce((at, p) => (data.set(p, at), at + p.length), 0);
      writeFileSync(join(dir, `${c.id}.f32`), Buffer.from(data.buffer));
      writeFileSync(join(dir, `${c.id}.json`), JSON.stringify({ frames, floatsPerFrame: data.length / frames }));
      if ((n + 1) % 20 === 0) log(`maps ${n + 1}/${missing.length}, ${((Date.now() - started) / (n + 1)).toFixed(0)} ms a clip`);
    }
    log(
      `maps done: ${missing.length} clips in ${((Date.now() - started) / 1000).toFixed(0)} s, ` +
        `${((Date.now() - started) / missing.length).toFixed(0)} ms a clip`,
    );
    session.dispose();
  }
  const [, side, , channels] = tfShape(spec.layer);
  return {
    classes,
    clips: clips.map((c) => {
      const meta = JSON.parse(readFileSync(join(dir, `${c.id}.json`), 'utf8')) as { frames: number; floatsPerFrame: number };
      const b = readFileSync(join(dir, `${c.id}.f32`));
      return {
        id: c.id,
        group: groups.get(c.id) ?? `clip:${c.id}`,
        label: classes.indexOf(c.label),
        frames: meta.frames,
        positions: side * side,
        channels,
        data: new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4),
      };
    }),
  };
}

/** Output shapes of the layers the probes use, [batch, S, S, C]. */
function tfShape(layer: string): [null, number, number, number] {
  const shapes: Record<string, [null, number, number, number]> = {
    out_relu: [null, 7, 7, 1280],
    block_16_project_BN: [null, 7, 7, 320],
    block_13_expand_relu: [null, 14, 14, 576],
  };
  const s = shapes[layer];
  if (s === undefined) throw new Error(`layer ${layer}: one of ${Object.keys(shapes).join(', ')}`);
  return s;
}
