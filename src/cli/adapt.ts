import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import { vigilError } from '../errors.js';
import type { AdaptationRecord } from '../model/folder/adaptation-record.js';
import { alertLabels, type ModelManifest } from '../model/folder/manifest.js';
import { readManifest, resolveModelDir } from '../model/folder/model-folder.js';
import { SHIPPED_MODELS_DIR } from '../model/folder/paths.js';
import { textTable } from '../text-table.js';
import { parseWith } from '../validation.js';
import type { Review } from '../train/adapt.js';
import { count, integer } from './options.js';

interface AdaptOptions {
  camera?: string;
  model?: string;
  data?: string;
  events?: string;
  out?: string;
  minReviews: number;
  seed: number;
  cache: string;
}

/** A review as another system exports it: a label, or what the reviewer said. */
const exportedReviews = z
  .array(
    z
      .object({
        id: z.string().min(1).max(200),
        clip: z.string().min(1),
        label: z.string().min(1).optional(),
        review: z.enum(['confirmed', 'false_alarm']).optional(),
        startMs: z.number().nonnegative().optional(),
        endMs: z.number().nonnegative().optional(),
      })
      .strict()
      .refine((r) => (r.label === undefined) !== (r.review === undefined), 'give one of label or review'),
  )
  .min(1);

/**
 * Reads `--events FILE`: clip paths relative to the file's folder; `review: confirmed` is the
 * model's alert (one alert only, else a label is needed), `false_alarm` its background class.
 * @throws VIGIL_ERR_INVALID_ARGUMENT naming the bad entries
 */
export async function readReviewsFile(file: string, manifest: ModelManifest): Promise<Review[]> {
  const { backgroundLabel } = await import('../train/adapt.js');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `--events ${file}: ${(e as Error).message}`);
  }
  const alerts = alertLabels(manifest);
  return parseWith(exportedReviews, raw, `--events ${file}`).map((r) => {
    let label = r.label;
    if (label === undefined && r.review === 'false_alarm') label = backgroundLabel(manifest);
    if (label === undefined) {
      if (alerts.length !== 1) {
        throw vigilError(
          'VIGIL_ERR_INVALID_ARGUMENT',
          `review ${r.id}: ${manifest.name} has ${alerts.length} alerts: say which with label`,
        );
      }
      label = alerts[0];
    }
    return {
      id: r.id,
      clip: resolve(dirname(file), r.clip),
      label,
      ...(r.startMs !== undefined ? { startMs: r.startMs } : {}),
      ...(r.endMs !== undefined ? { endMs: r.endMs } : {}),
    };
  });
}

/** The before/after figures on reviews not trained on (cross-validated) and the decision, as the CLI prints them. */
export function describeAdaptation(record: AdaptationRecord): string {
  const { before: b, after: a } = record;
  const rows = [
    [`not trained on (${a.reviews})`, 'before', 'after'],
    ['accuracy', String(b.accuracy), String(a.accuracy)],
    ['frame accuracy', String(b.frameAccuracy), String(a.frameAccuracy)],
    ['false alarms', String(b.falseAlarms), String(a.falseAlarms)],
    ['missed', String(b.missed), String(a.missed)],
  ];
  const r = record.reviews;
  const byLabel = Object.entries(r.byLabel)
    .map(([c, n]) => `${n} ${c}`)
    .join(', ');
  return [
    `adapted from ${record.from}${record.camera !== undefined ? ` to camera ${record.camera}` : ''} in ${record.seconds} s`,
    `reviews: ${byLabel}; ${r.used} used, ${r.skipped} skipped; ${record.replaySequences} replayed; judged by ${record.folds}-fold cross-validation`,
    ...textTable(rows, { align: ['left', 'right', 'right'] }),
    ...(record.replayCheck
      ? [
          `held-back replay (${record.replayCheck.sequences}): frame accuracy ${record.replayCheck.before} before, ${record.replayCheck.after} after`,
        ]
      : []),
    `rule: ${record.rule}`,
    `decision: ${record.accepted ? 'accepted' : 'refused'}`,
  ].join('\n');
}

export function adaptCommand(): Command {
  return new Command('adapt')
    .description(
      "adapt a camera's model to it from its reviewed events (confirmed, false alarm) in a data folder, or from reviews in a JSON file",
    )
    .option(
      '--camera <id>',
      'the camera: its reviews and live model from the data folder; an accepted version goes live (server not running)',
    )
    .option('--model <name>', "which of the camera's models [its first]; with --events and no --camera, a model name or folder")
    .option('-d, --data <dir>', 'the data folder of `vigil serve` (env VIGIL_DATA_DIR) [./vigil-data]')
    .option('--events <file>', 'reviews exported from elsewhere: a JSON array of { id, clip, label | review, startMs?, endMs? }')
    .option('-o, --out <dir>', 'with --events and no --camera: the model folder to write')
    .option('--min-reviews <n>', 'usable reviews needed', count, 4)
    .option('--seed <n>', 'random seed (the held-out split, training)', integer, 1)
    .option('--cache <dir>', 'feature cache folder', resolve('.cache/features'))
    .action(async (o: AdaptOptions) => {
      if (o.camera === undefined && o.events === undefined)
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'give --camera ID, or --events FILE');
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const { adaptModel } = await import('../train/adapt-model.js');
      if (o.camera === undefined) {
        if (o.model === undefined || o.out === undefined) {
          throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', '--events without --camera needs --model (a name or folder) and --out DIR');
        }
        const baseDir = resolveModelDir(o.model);
        const reviews = await readReviewsFile(resolve(o.events!), readManifest(baseDir));
        const out = resolve(o.out);
        const { record, manifest } = await adaptModel({
          baseDir,
          reviews,
          out,
          cacheDir: o.cache,
          minReviews: o.minReviews,
          seed: o.seed,
          log,
        });
        process.stdout.write(`${describeAdaptation(record)}\nwrote ${manifest.name} ${manifest.version} to ${out}\n`);
        return;
      }
      if (o.out !== undefined)
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', '--out goes with --events alone: a camera keeps its versions in the data folder');
      const [{ openStore }, { cameraReviews }] = await Promise.all([import('../store/index.js'), import('../events/reviews.js')]);
      const store = openStore(resolve(o.data ?? process.env.VIGIL_DATA_DIR ?? 'vigil-data'));
      try {
        const camera = await store.cameras.get(o.camera);
        if (!camera) throw vigilError('VIGIL_ERR_NOT_FOUND', `camera ${o.camera}`);
        const model = o.model ?? camera.models[0];
        if (!camera.models.includes(model)) {
          throw vigilError('VIGIL_ERR_NOT_FOUND', `camera ${camera.id} does not run ${model} (it runs ${camera.models.join(', ')})`);
        }
        const baseDir = (await store.models.liveFolder(camera.id, model)) ?? join(SHIPPED_MODELS_DIR, model);
        const base = readManifest(baseDir);
        const reviews =
          o.events !== undefined ? await readReviewsFile(resolve(o.events), base) : (await cameraReviews(store, camera.id, base)).reviews;
        const staged = store.stagingPath('');
        let outcome;
        try {
          outcome = await adaptModel({
            baseDir,
            reviews,
            out: staged,
            cacheDir: o.cache,
            camera: camera.id,
            minReviews: o.minReviews,
            seed: o.seed,
            log,
          });
        } catch (e) {
          store.discard(staged);
          throw e;
        }
        const { record, manifest } = outcome;
        const version = await store.models.add(staged, {
          cameraId: camera.id,
          model,
          version: manifest.version,
          accepted: record.accepted,
          record,
        });
        if (version.accepted) await store.models.setLive(camera.id, model, version.id);
        process.stdout.write(
          `${describeAdaptation(record)}\n` +
            (version.accepted
              ? `${model} ${version.version} is live on camera ${camera.id} (version ${version.id}; a running server picks it up when it restarts)\n`
              : `${model} ${version.version} kept as version ${version.id}, not live\n`),
        );
      } finally {
        await store.close();
      }
    });
}
