import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { vigilError } from '../errors.js';
import { deltaLags } from '../model/input/feature-deltas.js';
import { INPUT_MODES, type InputMode } from '../model/input/frame-encoder.js';
import { SHIPPED_MODELS_DIR } from '../model/folder/paths.js';
import type { ModelManifest } from '../model/folder/manifest.js';
import { AUGMENTATIONS, parseAugment, type Augmentation } from '../train/augment.js';
import type { TrainCommonOptions } from '../train/train-clips.js';
import { describeModel } from './models.js';
import { count, integer, positive } from './options.js';

interface TrainOptions {
  data?: string;
  manifest?: string;
  classes?: string[];
  groups?: string;
  name: string;
  out?: string;
  description: string;
  extractor: string;
  input: InputMode;
  deltas?: true | number[];
  augment?: Augmentation[];
  fps: number;
  hidden: number;
  ensemble: number;
  lr: number;
  window: number;
  epochs: number;
  folds: number;
  seed: number;
  windowMs: number;
  minHoldMs: number;
  backdate?: boolean;
  cache: string;
}

export function trainCommand(): Command {
  return new Command('train')
    .description('train a model on a clip-labelled dataset (<data>/<label>/*.mp4) or a time-span manifest, and write its folder and card')
    .option('-d, --data <dir>', 'dataset folder, one sub-folder per class')
    .option('--manifest <file>', 'time-span dataset instead: CSV or JSONL rows clip,label,start,end[,group] (seconds)')
    .option(
      '--classes <list>',
      'with --manifest: the classes, in priority order where spans overlap (e.g. falling,lying,sitting,standing,walking)',
      classList,
    )
    .option(
      '-g, --groups <file>',
      'source groups (videos.txt format): clips of one source never straddle a split (default with --manifest: its group column)',
    )
    .requiredOption('-n, --name <name>', 'model name')
    .option('-o, --out <dir>', 'model folder to write (default: models/<name>)')
    .option('--description <text>', 'one line for the model card', 'behaviour classifier')
    .option('--extractor <name>', 'feature extractor', 'mobilenet_v2')
    .addOption(new Option('--input <mode>', 'what the CNN sees').choices(INPUT_MODES).default('framediff'))
    .option('--deltas [lags]', "the head also sees each frame's feature change over these many frames (velocities; alone: 1)", lagList)
    .option(
      '--augment <list>',
      `training clips also teach from augmented decodes: ${AUGMENTATIONS.join(', ')} ` +
        '(flip = mirrored, speed = sampled at 0.75x and 1.25x the fps, crop = centre 85%)',
      augmentList,
    )
    .option('--fps <n>', 'sampling rate', positive, 8)
    .option('--hidden <n>', 'recurrent units', integer, 16)
    .option('--ensemble <n>', 'train n heads from different seeds and ship their logit average (one head with n x hidden units)', count, 1)
    .option('--lr <rate>', 'Adam learning rate', positive, 0.0005)
    .option('--window <n>', 'frames per training window', integer, 12)
    .option('--epochs <n>', 'most epochs (early stopping ends sooner)', integer, 60)
    .option('--folds <k>', 'grouped CV folds for the card (0 = none)', integer, 5)
    .option('--seed <n>', 'random seed', integer, 1)
    .option('--window-ms <ms>', "the model's smoothing window, used by CV scoring and by label", integer, 1000)
    .option('--min-hold-ms <ms>', "the model's hysteresis: how long a new label must lead before it takes over", integer, 500)
    .option(
      '--backdate',
      'segments start where their label began to lead, not where the hold confirmed it (a long hold without late onsets)',
    )
    .option('--cache <dir>', 'feature cache folder', resolve('.cache/features'))
    .action(async (o: TrainOptions) => {
      if ((o.data === undefined) === (o.manifest === undefined)) {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'give one of --data DIR (class folders) or --manifest FILE (time spans)');
      }
      const command = ['vigil', ...process.argv.slice(2).map((a) => (/\s/.test(a) ? JSON.stringify(a) : a))].join(' ');
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const [{ trainClipModel }, { trainSpanModel }] = await Promise.all([
        import('../train/train-clips.js'),
        import('../train/train-spans.js'),
      ]);
      const common: TrainCommonOptions = {
        name: o.name,
        out: o.out ?? join(SHIPPED_MODELS_DIR, o.name),
        description: o.description,
        extractor: o.extractor,
        input: o.input,
        deltas: deltaLags(o.deltas),
        ...(o.augment ? { augment: o.augment } : {}),
        fps: o.fps,
        folds: o.folds,
        cacheDir: o.cache,
        seed: o.seed,
        fit: {
          hidden: o.hidden,
          window: o.window,
          epochs: o.epochs,
          learningRate: o.lr,
          ...(o.ensemble > 1 ? { ensemble: o.ensemble } : {}),
        },
        smoothing: { windowMs: o.windowMs, minHoldMs: o.minHoldMs, ...(o.backdate ? { backdate: true } : {}) },
        command,
        log,
      };
      const groups = o.groups && resolve(o.groups);
      let manifest: ModelManifest;
      if (o.manifest !== undefined) {
        if (o.classes === undefined)
          throw vigilError(
            'VIGIL_ERR_INVALID_ARGUMENT',
            '--manifest needs --classes a,b,c (the order is the priority where spans overlap)',
          );
        manifest = await trainSpanModel({ ...common, manifest: resolve(o.manifest), groups, classes: o.classes });
      } else {
        if (o.classes !== undefined)
          throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', '--classes goes with --manifest; with --data the classes are the folders');
        manifest = await trainClipModel({ ...common, data: resolve(o.data!), groups });
      }
      process.stdout.write(describeModel(manifest) + '\n');
    });
}

function lagList(value: string): number[] {
  const lags = value.split(',').map((s) => Number(s.trim()));
  if (lags.length === 0 || lags.some((k) => !Number.isInteger(k) || k < 1 || k > 64) || new Set(lags).size !== lags.length) {
    throw new InvalidArgumentError('a comma-separated list of distinct whole numbers of frames, 1-64, e.g. 1,4');
  }
  return lags;
}

function augmentList(value: string): Augmentation[] {
  try {
    return parseAugment(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/** `a, b,c` → ['a', 'b', 'c'] for --classes. */
export function classList(value: string): string[] {
  const list = value.split(',').map((c) => c.trim());
  if (list.some((c) => c === '')) throw new InvalidArgumentError('a comma-separated list of class names, e.g. falling,lying,sitting');
  if (new Set(list).size !== list.length) throw new InvalidArgumentError('class names must be unique');
  return list;
}
