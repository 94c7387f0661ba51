import { dirname, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { importGmdcsa24, type Gmdcsa24Import } from '../train/gmdcsa24.js';
import { formatSpanManifest, oneVsRest, writeSpanManifest } from '../train/span-manifest.js';

function pair(value: string): [string, string] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length !== 2 || parts.some((p) => p === '') || parts[0] === parts[1])
    throw new InvalidArgumentError('two different labels, e.g. falling,no_fall');
  return [parts[0], parts[1]];
}

export function importCommand(): Command {
  const gmdcsa24 = new Command('gmdcsa24')
    .description('GMDCSA24 (Subject_N__{ADL,Fall}.csv + clips/): one group per subject; unreadable rows are reported and left out')
    .argument('<dir>', 'the dataset folder')
    .option('-o, --out <file>', 'manifest to write, CSV or .jsonl (default: CSV on stdout)')
    .option('--json', 'print the import report as JSON on stderr')
    .option('--one-vs-rest <label,rest>', 'keep spans of <label>, relabel every other span <rest> (e.g. falling,no_fall)', pair)
    .action(async (dir: string, o: { out?: string; json?: boolean; oneVsRest?: [string, string] }) => {
      const imported = importGmdcsa24(dir);
      const result = o.oneVsRest ? { ...imported, dataset: oneVsRest(imported.dataset, ...o.oneVsRest) } : imported;
      if (o.out === undefined) process.stdout.write(formatSpanManifest(result.dataset, 'csv', process.cwd()));
      else await writeSpanManifest(o.out, result.dataset);
      const { dataset, ...report } = result;
      process.stderr.write(
        o.json ? JSON.stringify({ ...report, clips: dataset.clips.length }, null, 2) + '\n' : renderImport(result, o.out),
      );
    });
  return new Command('import')
    .description('turn a labelled dataset into a time-span manifest for `vigil train --manifest` and `vigil eval --manifest`')
    .addCommand(gmdcsa24);
}

function renderImport(r: Gmdcsa24Import, out: string | undefined): string {
  const groups = new Map<string, number>();
  for (const c of r.dataset.clips) groups.set(c.group!, (groups.get(c.group!) ?? 0) + 1);
  const lines = [
    `gmdcsa24: ${r.rows} rows; ${r.dataset.clips.length} clips imported (${[...groups].map(([g, n]) => `${g} ${n}`).join(', ')})`,
    `spans: ${Object.entries(r.spans)
      .map(([l, n]) => `${l} ${n}`)
      .join(', ')}`,
    `skipped: ${r.absent.length} rows whose clip is not in clips/` +
      (r.unlisted.length > 0 ? `; ${r.unlisted.length} clips no row describes: ${r.unlisted.join(', ')}` : ''),
  ];
  if (r.problems.length > 0) {
    lines.push(`unreadable (${r.problems.length}; their rows are left out):`);
    for (const p of r.problems)
      lines.push(`  ${p.file}:${p.line} ${p.clip}${p.present ? '' : ' (not in clips/)'}: ${p.problem}: ${p.text}`);
  }
  if (out !== undefined) lines.push(`wrote ${resolve(out)} (clip paths relative to ${dirname(resolve(out))})`);
  return lines.join('\n') + '\n';
}
