import { Command } from 'commander';
import { listModelNames, SHIPPED_MODELS_DIR } from '../model/folder/paths.js';
import { describeFfmpeg, resolveFfmpeg } from '../video/ffmpeg.js';

export function doctorCommand(): Command {
  return new Command('doctor')
    .alias('info')
    .description('show which inference engine, tensor backend and ffmpeg vigil uses here, and why')
    .option('--json', 'machine-readable')
    .action(async (o: { json?: boolean }) => {
      const [{ describeEngine, selectEngine }, { EXTRACTORS }] = await Promise.all([
        import('../model/runtime/engine.js'),
        import('../model/extractors/registry.js'),
      ]);
      const [engine, tools] = await Promise.all([selectEngine(), resolveFfmpeg()]);
      const report = {
        node: process.version,
        engine: { name: engine.name, reason: engine.reason, ort: engine.ort ?? null },
        backend: engine.tfjs,
        ffmpeg: tools.ffmpeg,
        ffprobe: tools.ffprobe,
        extractors: Object.keys(EXTRACTORS),
        models: { dir: SHIPPED_MODELS_DIR, shipped: listModelNames() },
      };
      if (o.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        return;
      }
      const backend = engine.tfjs;
      const simd = backend.simd === undefined ? '' : backend.simd ? ' (simd)' : ' (no simd)';
      process.stdout.write(
        [
          `node        ${report.node}`,
          `engine      ${describeEngine(engine)}`,
          `tfjs        ${backend.name}${simd}: ${backend.reason}${engine.name === 'ort' ? ' (loads weights for conversion, trains heads)' : ''}`,
          `extractors  ${report.extractors.map((n) => `${n} (${EXTRACTORS[n].engines.join(', ')})`).join(', ')}`,
          `models      ${report.models.shipped.join(', ') || '(none)'} in ${report.models.dir}`,
          await describeFfmpeg(),
          '',
          'override with VIGIL_ENGINE=ort|tfjs, VIGIL_ORT_THREADS=n, VIGIL_BACKEND=tensorflow|wasm|cpu,',
          '              VIGIL_FFMPEG=/path, VIGIL_FFPROBE=/path, VIGIL_CACHE_DIR=/path',
        ].join('\n') + '\n',
      );
    });
}
