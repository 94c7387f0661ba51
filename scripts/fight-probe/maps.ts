// Research probe, not product code: MobileNetV2 spatial feature maps of the fight clips,
// cached per clip, for trying what the head sees (pooling, layers, input gain) without the
// product's extractor registry. See README.md in this folder.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadMobileNetV2Layers } from '../../src/model/extractors/mobilenet-v2.js';
import { createFrameEncoder, type InputMode } from '../../src/model/input.js';
import { convertLayersModel } from '../../src/model/onnx/convert.js';
import { createSession } from '../../src/model/onnx/runtime.js';
import { readClipFolders } from '../../src/train/clip-folders.js';
import { readGroupsFile } from '../../src/train/groups.js';
import { inBatches } from '../../src/video/batches.js';
import { openFrames } from '../../src/video/decode.js';

export const DATASET = '../shared/datasets/fight-surveillance';

export interface MapSpec {
  /** A MobileNetV2 layer with a [S, S, C] output, e.g. `out_relu` (7x7x1280). */
  layer: string;
  input: InputMode;
  /** Pixel differences times this, clipped to 1 (framediff only). */
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

function cacheDir(s: MapSpec): string {
  return join('.cache/probe-maps', `${s.layer}-${s.input}${s.gain === 1 ? '' : `x${s.gain}`}-${s.fps}`);
}

/** Extracts (once) and loads the maps of every fight clip. */
export async function loadMaps(spec: MapSpec, log: (line: string) => void = console.log): Promise<{ classes: string[]; clips: ClipMaps[] }> {
  const { clips, classes } = readClipFolders(DATASET);
  const groups = readGroupsFile(join(DATASET, 'videos.txt'));
  const dir = cacheDir(spec);
  mkdirSync(dir, { recursive: true });
  const missing = clips.filter((c) => !existsSync(join(dir, `${c.id}.json`)));
  if (missing.length > 0) {
    const { model, dispose } = await loadMobileNetV2Layers();
    const cut = tf.model({ inputs: model.inputs, outputs: model.getLayer(spec.layer).output as tf.SymbolicTensor });
    const session = createSession(convertLayersModel(cut, { inputNames: ['pixels'], outputNames: ['map'] }), { threads: 2 });
    dispose();
    const started = Date.now();
    for (const [n, c] of missing.entries()) {
      const encoder = createFrameEncoder({ mode: spec.input, scale: spec.gain / 255, offset: 0, size: SIZE, maxBatch: 8, owner: 'probe' });
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
