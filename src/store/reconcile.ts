import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { log } from '../log.js';
import type { Db } from './db.js';
import { CLIP_ID_PATTERN, EVENT_ID_PATTERN, EXT_PATTERN } from './ids.js';
import { resolveInside, type Layout } from './paths.js';

/** What {@link reconcile} repaired. */
export interface ReconcileReport {
  /** Entries deleted from `staging/` (writes a crash interrupted). */
  staging: number;
  /** Files (or anything else) in `clips/` without a row, deleted. */
  orphanFiles: string[];
  /** Clips whose video file was missing; their rows were deleted. */
  missingFiles: string[];
  /** Clips left `processing` by a crash, put back to `pending`. */
  requeued: string[];
  /** Events left `active` by a crash, ended where they had got (their last stored `endMs`). */
  endedEvents: string[];
  /** Files in `snapshots/` without an event, deleted. */
  orphanSnapshots: string[];
  /** Adapted model folders (`<camera>/<folder>` under `models/`) without a version row, deleted. */
  orphanModels: string[];
  /** Model versions whose folder was missing; their rows were deleted (a live one falls back to the one before). */
  missingModels: string[];
}

/**
 * Makes the database and the disk agree after whatever happened last time. It relies on the
 * write order of the rest of the store: files are written in staging and renamed into
 * `clips/` before their row commits; rows are deleted before their files. So any crash
 * leaves at worst a staged file, a file without a row, or (after the disk lost a rename or
 * someone deleted a file) a row without a file — each repaired here.
 */
export function reconcile(db: Db, layout: Layout): ReconcileReport {
  mkdirSync(layout.staging, { recursive: true });
  mkdirSync(layout.clips, { recursive: true });
  mkdirSync(layout.snapshots, { recursive: true });
  mkdirSync(layout.models, { recursive: true });
  const report: ReconcileReport = {
    staging: 0,
    orphanFiles: [],
    missingFiles: [],
    requeued: [],
    endedEvents: [],
    orphanSnapshots: [],
    orphanModels: [],
    missingModels: [],
  };

  for (const name of readdirSync(layout.staging)) {
    rmSync(join(layout.staging, name), { recursive: true, force: true });
    report.staging++;
  }
  if (report.staging > 0) log.info(`store: deleted ${report.staging} unfinished file(s) from ${layout.staging}`);

  const rows = db.prepare<[], { id: string; ext: string; status: string }>('SELECT id, ext, status FROM clips').all();
  const expected = new Set<string>();
  for (const row of rows) {
    // A row that does not fit the patterns cannot name a safe path: treat its file as missing.
    const name = `${row.id}.${row.ext}`;
    if (CLIP_ID_PATTERN.test(row.id) && EXT_PATTERN.test(row.ext) && isFile(resolveInside(layout.clips, name))) {
      expected.add(name);
      if (row.status === 'processing') report.requeued.push(row.id);
    } else {
      report.missingFiles.push(row.id);
    }
  }
  db.transaction(() => {
    const remove = db.prepare<[string]>('DELETE FROM clips WHERE id = ?');
    for (const id of report.missingFiles) remove.run(id);
    const requeue = db.prepare<[string]>("UPDATE clips SET status = 'pending' WHERE id = ?");
    for (const id of report.requeued) requeue.run(id);
  })();
  if (report.missingFiles.length > 0) {
    log.warn(`store: ${report.missingFiles.length} clip(s) had no video file and were removed: ${sample(report.missingFiles)}`);
  }
  if (report.requeued.length > 0) log.info(`store: ${report.requeued.length} clip(s) interrupted while labelling are pending again`);

  for (const name of readdirSync(layout.clips)) {
    if (expected.has(name)) continue;
    rmSync(join(layout.clips, name), { recursive: true, force: true });
    report.orphanFiles.push(name);
  }
  if (report.orphanFiles.length > 0) {
    log.warn(`store: deleted ${report.orphanFiles.length} file(s) without a clip from ${layout.clips}: ${sample(report.orphanFiles)}`);
  }
  reconcileEvents(db, layout, report);
  reconcileModels(db, layout, report);
  return report;
}

/**
 * Adapted model folders are renamed into `models/` before their row commits and deleted after
 * it (with their camera), as clips are: a folder without a row goes, a row without a folder
 * goes (and with it its place in the live stack, by the foreign key).
 */
function reconcileModels(db: Db, layout: Layout, report: ReconcileReport): void {
  const rows = db.prepare<[], { id: number; folder: string }>('SELECT id, folder FROM model_versions').all();
  const expected = new Set<string>();
  const gone: number[] = [];
  for (const row of rows) {
    let full: string | undefined;
    try {
      full = resolveInside(layout.models, relative(layout.models, join(layout.root, row.folder)));
    } catch {
      full = undefined; // a folder outside models/ is not ours to trust
    }
    if (full !== undefined && isDir(full)) expected.add(relative(layout.models, full));
    else {
      gone.push(row.id);
      report.missingModels.push(row.folder);
    }
  }
  db.transaction(() => {
    const remove = db.prepare<[number]>('DELETE FROM model_versions WHERE id = ?');
    for (const id of gone) remove.run(id);
  })();
  for (const camera of readdirSync(layout.models)) {
    const dir = join(layout.models, camera);
    const names = isDir(dir) ? readdirSync(dir) : [''];
    for (const name of names) {
      const rel = name === '' ? camera : join(camera, name);
      if (expected.has(rel)) continue;
      rmSync(join(layout.models, rel), { recursive: true, force: true });
      report.orphanModels.push(rel);
    }
    if (isDir(dir) && readdirSync(dir).length === 0) rmSync(dir, { recursive: true, force: true });
  }
  if (report.missingModels.length > 0)
    log.warn(`store: ${report.missingModels.length} adapted model(s) had no folder: ${sample(report.missingModels)}`);
  if (report.orphanModels.length > 0) log.info(`store: deleted ${report.orphanModels.length} model folder(s) without a version`);
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * No server runs on this store yet, so every `active` event is one a crash cut short: it ends
 * at the last `endMs` its tracker stored (it stores one a labelled frame). Snapshots follow
 * the clips' write order (file renamed into place, then the row flagged; row deleted, then
 * the file), so a flag is set from whether the file is there and a file without a row goes.
 */
function reconcileEvents(db: Db, layout: Layout, report: ReconcileReport): void {
  const rows = db.prepare<[], { id: string; state: string; snapshot: number }>('SELECT id, state, snapshot FROM events').all();
  const expected = new Set<string>();
  const flags: { id: string; has: boolean }[] = [];
  for (const row of rows) {
    if (row.state === 'active') report.endedEvents.push(row.id);
    const name = `${row.id}.jpg`;
    const has = EVENT_ID_PATTERN.test(row.id) && isFile(resolveInside(layout.snapshots, name));
    if (has) expected.add(name);
    if (has !== (row.snapshot === 1)) flags.push({ id: row.id, has });
  }
  db.transaction(() => {
    const end = db.prepare<[string]>("UPDATE events SET state = 'ended' WHERE id = ?");
    for (const id of report.endedEvents) end.run(id);
    const flag = db.prepare<[number, string]>('UPDATE events SET snapshot = ? WHERE id = ?');
    for (const f of flags) flag.run(f.has ? 1 : 0, f.id);
  })();
  if (report.endedEvents.length > 0)
    log.info(`store: ${report.endedEvents.length} event(s) cut short by a stop were ended where they had got`);
  for (const name of readdirSync(layout.snapshots)) {
    if (expected.has(name)) continue;
    rmSync(join(layout.snapshots, name), { recursive: true, force: true });
    report.orphanSnapshots.push(name);
  }
  if (report.orphanSnapshots.length > 0) log.info(`store: deleted ${report.orphanSnapshots.length} snapshot(s) without an event`);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

function sample(names: string[]): string {
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')}, ...`;
}
