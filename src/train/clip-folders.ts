import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { vigilError } from '../errors.js';

export interface LabelledClip {
  path: string;
  /** File name without extension, the id group files use (e.g. `fi001`). */
  id: string;
  label: string;
}

const VIDEO_EXT = new Set(['.mp4', '.avi', '.mkv', '.mov', '.webm', '.mpg', '.mpeg', '.m4v']);

/** `noFight` → `no_fight`: class names are snake_case whatever the folder spelling. */
export function className(folder: string): string {
  return folder
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[\s-]+/g, '_')
    .toLowerCase();
}

/** A clip-labelled dataset: `<dir>/<label>/*.mp4`, one class per folder, sorted by name. */
export function readClipFolders(dir: string): { classes: string[]; clips: LabelledClip[] } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw vigilError('VIGIL_ERR_DATASET', `${dir} is not a folder`);
  const folders = readdirSync(dir)
    .filter((f) => statSync(join(dir, f)).isDirectory())
    .sort();
  const clips: LabelledClip[] = [];
  for (const folder of folders) {
    for (const file of readdirSync(join(dir, folder)).sort()) {
      if (!VIDEO_EXT.has(extname(file).toLowerCase())) continue;
      clips.push({ path: join(dir, folder, file), id: basename(file, extname(file)), label: className(folder) });
    }
  }
  const classes = [...new Set(clips.map((c) => c.label))];
  if (classes.length < 2)
    throw vigilError('VIGIL_ERR_DATASET', `${dir} needs at least two class folders with videos; found ${classes.length}`);
  return { classes, clips };
}
