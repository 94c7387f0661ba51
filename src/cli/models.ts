import { join } from 'node:path';
import { Command } from 'commander';
import { deltaLags } from '../model/input/feature-deltas.js';
import { INPUT_NAMES, inputGeometry } from '../model/input/frame-encoder.js';
import type { ModelManifest } from '../model/folder/manifest.js';
import { listModelNames, SHIPPED_MODELS_DIR } from '../model/folder/paths.js';
import { headSummary } from '../train/model-card.js';

/** The card in a few lines: what it labels and how well it did on held-out data. */
export function describeModel(m: ModelManifest): string {
  const cv = m.training.crossValidation;
  const lags = deltaLags(m.deltas);
  const lines = [
    `${m.name} ${m.version}: ${m.description}`,
    `  classes:   ${m.classes.join(', ')}`,
    `  input:     ${m.extractor} on ${INPUT_NAMES[m.input]}${lags.length > 0 ? ` + deltas (${lags.join(', ')} frames)` : ''}, ` +
      `${inputGeometry(m.input, m.inputSize)}, ${m.fps} fps`,
    `  head:      ${headSummary(m)}`,
  ];
  if (cv)
    lines.push(
      `  accuracy:  ${cv.accuracyMean?.toFixed(3) ?? '–'} ± ${cv.accuracyStd?.toFixed(3) ?? '–'} (grouped ${cv.folds}-fold CV by ${cv.grouping})`,
    );
  if (m.training.dataset !== undefined) lines.push(`  trained on ${m.training.dataset}`);
  return lines.join('\n');
}

export function modelsCommand(): Command {
  return new Command('models')
    .description('list the shipped models with their classes and card')
    .option('--json', 'print the manifests as JSON')
    .action(async (o: { json?: boolean }) => {
      const { readManifest } = await import('../model/folder/model-folder.js');
      const manifests = listModelNames().map((n) => readManifest(join(SHIPPED_MODELS_DIR, n)));
      if (o.json) process.stdout.write(JSON.stringify(manifests, null, 2) + '\n');
      else process.stdout.write(manifests.map(describeModel).join('\n\n') + '\n');
    });
}
