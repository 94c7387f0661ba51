import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { vigilError } from '../errors.js';
import { DEFAULT_MODEL } from '../model/folder/paths.js';
import { toTable, toWebVtt } from '../timeline/format.js';
import { positive } from './options.js';

const FORMATS = ['table', 'json', 'vtt'] as const;

export function labelCommand(): Command {
  return new Command('label')
    .description('label what people do over time in a clip (file, rtsp://, http(s)://)')
    .argument('<source>', 'video file path or rtsp/http(s) URL')
    .option('-m, --model <name|path>', 'shipped model name or model folder', DEFAULT_MODEL)
    .option('--fps <n>', "sampling rate (default: the model's)", positive)
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('table'))
    .option('-o, --out <file>', 'write the output to a file instead of stdout')
    .option('--window-ms <ms>', "smoothing window (default: the model's)", positive)
    .option('--min-hold-ms <ms>', "how long a new label must hold before it switches (default: the model's)", positive)
    .action(
      async (
        source: string,
        o: { model: string; fps?: number; format: (typeof FORMATS)[number]; out?: string; windowMs?: number; minHoldMs?: number },
      ) => {
        // Loaded here, not at the top: `vigil --help` should not pay for tfjs and ONNX Runtime.
        const [{ loadModel }, { labelClip }] = await Promise.all([import('../model/model.js'), import('../label-clip.js')]);
        const model = await loadModel(o.model);
        const bar = process.stderr.isTTY
          ? new SingleBar({ format: 'labelling [{bar}] {percentage}% | {value}/{total} s', hideCursor: true, stream: process.stderr })
          : undefined;
        // First Ctrl-C: stop reading and print the timeline so far (a live camera never ends);
        // a second one gives up at once.
        const stop = new AbortController();
        const abort = new AbortController();
        const onSignal = () => {
          if (stop.signal.aborted) abort.abort();
          else {
            stop.abort();
            process.stderr.write('vigil: stopping; printing the timeline so far (Ctrl-C again to quit)\n');
          }
        };
        process.on('SIGINT', onSignal);
        try {
          const timeline = await labelClip(source, model, {
            fps: o.fps,
            windowMs: o.windowMs,
            minHoldMs: o.minHoldMs,
            signal: abort.signal,
            stop: stop.signal,
            onProgress(tMs, durationMs) {
              if (!bar || durationMs === null) return;
              if (!bar.isActive) bar.start(Math.round(durationMs / 100) / 10, 0);
              bar.update(Math.min(Math.round(tMs / 100) / 10, bar.getTotal()));
            },
          });
          bar?.stop();
          const text =
            o.format === 'json'
              ? JSON.stringify(timeline, null, 2) + '\n'
              : o.format === 'vtt'
                ? toWebVtt(timeline.segments)
                : toTable(timeline.segments) + '\n';
          if (o.out === undefined) process.stdout.write(text);
          else await writeFile(o.out, text).catch((e: Error) => Promise.reject(vigilError('VIGIL_ERR_OUTPUT', `${o.out}: ${e.message}`)));
        } finally {
          bar?.stop();
          process.off('SIGINT', onSignal);
          if (stop.signal.aborted) process.exitCode = 130;
          model.dispose();
        }
      },
    );
}
