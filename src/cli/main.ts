#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { isVigilError } from '../errors.js';
import { setLogLevel } from '../log.js';
import { adaptCommand } from './adapt.js';
import { doctorCommand } from './doctor.js';
import { evalCommand } from './eval.js';
import { importCommand } from './import.js';
import { labelCommand } from './label.js';
import { modelsCommand } from './models.js';
import { serveCommand } from './serve.js';
import { trainCommand } from './train.js';

const program = new Command('vigil')
  .description('Watches video and says, over time, what people in it are doing.')
  .version('0.1.0')
  .option('-v, --verbose', 'log decisions (backend, ffmpeg) to stderr')
  .option('-q, --quiet', 'only errors on stderr')
  .hook('preAction', (cmd) => {
    const o = cmd.opts<{ verbose?: boolean; quiet?: boolean }>();
    if (o.verbose) setLogLevel('info');
    if (o.quiet) setLogLevel('error');
  })
  .exitOverride();

program.addCommand(labelCommand());
program.addCommand(modelsCommand());
program.addCommand(doctorCommand());
program.addCommand(trainCommand());
program.addCommand(evalCommand());
program.addCommand(importCommand());
program.addCommand(adaptCommand());
program.addCommand(serveCommand());

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // --help and --version end here too, with exit code 0.
    process.exitCode = e.exitCode;
  } else if (isVigilError(e)) {
    process.stderr.write(`vigil: ${e.code}: ${e.message}\n`);
    process.exitCode = 1;
  } else {
    const err = e as Error;
    process.stderr.write(`vigil: VIGIL_ERR_INTERNAL: ${err.message}\n`);
    if (process.env.VIGIL_DEBUG) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  }
}
