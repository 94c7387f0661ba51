import { Command } from 'commander';
import { selectBackend } from '../model/backend.js';
import { EXTRACTORS } from '../model/extractors/registry.js';
import { listModelNames, SHIPPED_MODELS_DIR } from '../model/model-folder.js';
import { resolveFfmpeg } from '../video/ffmpeg.js';

export function doctorCommand(): Command {
  return new Command('doctor')
    .alias('info')
    .description('show which tensor backend and ffmpeg vigil uses here, and why')
    .option('--json', 'machine-readable')
    .action(async (o: { json?: boolean }) => {
      const [backend, tools] = await Promise.all([selectBackend(), resolveFfmpeg()]);
      const report = {
        node: process.version,
        backend,
        ffmpeg: tools.ffmpeg,
        ffprobe: tools.ffprobe,
        extractors: Object.keys(EXTRACTORS),
        models: { dir: SHIPPED_MODELS_DIR, shipped: listModelNames() },
      };
      if (o.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        return;
      }
      const simd = backend.simd === undefined ? '' : backend.simd ? ' (simd)' : ' (no simd)';
      process.stdout.write(
        [
          `node        ${report.node}`,
          `backend     ${backend.name}${simd}: ${backend.reason}`,
          `ffmpeg      ${tools.ffmpeg.path} (${tools.ffmpeg.version}): ${tools.ffmpeg.source}`,
          `ffprobe     ${tools.ffprobe.path} (${tools.ffprobe.version}): ${tools.ffprobe.source}`,
          `extractors  ${report.extractors.join(', ')}`,
          `models      ${report.models.shipped.join(', ') || '(none)'} in ${report.models.dir}`,
          '',
          'override with VIGIL_BACKEND=tensorflow|wasm|cpu, VIGIL_FFMPEG=/path, VIGIL_FFPROBE=/path',
        ].join('\n') + '\n',
      );
    });
}
