/**
 * The open-time repair of a PostgreSQL store, which differs from src/store/reconcile.ts
 * because other nodes are running while this one opens:
 * - staging: only this node's folder is wiped (the others' hold their writes in progress);
 * - clips: only this node's rows (`node`) are repaired: a row without its file goes, one left
 *   `processing` by this node's crash is pending again. Another node's row is its to repair,
 *   and a node whose volume is not mounted must not delete the fleet's clips;
 * - active events are not ended: other nodes' cameras are still running them. Whoever takes a
 *   camera over ends its predecessor's with `events.endActive(cameraId)`;
 * - files without a row (clips, snapshots, model folders) go only once older than
 *   {@link ORPHAN_GRACE_MS}: a file is renamed into place before its row commits, so a young
 *   one may be another node's adoption about to commit;
 * - a snapshot file whose event is unflagged gets its flag; a flag without a file, and a model
 *   version without its folder, are logged and left (on a missing mount they would be all).
 */
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type pg from 'pg';
import { log } from '../../log.js';
import { CLIP_ID_PATTERN, EVENT_ID_PATTERN, EXT_PATTERN } from '../ids.js';
import { resolveInside, type Layout } from '../paths.js';
import type { ReconcileReport } from '../reconcile.js';
import { pgGuard } from './query.js';

/** How old a file without a row must be before it counts as left over rather than being adopted. */
export const ORPHAN_GRACE_MS = 10 * 60_000;

export async function reconcilePg(pool: pg.Pool, layout: Layout, node: string, nowMs: number): Promise<ReconcileReport> {
  for (const dir of [layout.staging, layout.clips, layout.snapshots, layout.models]) mkdirSync(dir, { recursive: true });
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
  const old = (path: string): boolean => {
    try {
      return nowMs - statSync(path).mtimeMs > ORPHAN_GRACE_MS;
    } catch {
      return false;
    }
  };

  for (const name of readdirSync(layout.staging)) {
    rmSync(join(layout.staging, name), { recursive: true, force: true });
    report.staging++;
  }
  if (report.staging > 0) log.info(`store: deleted ${report.staging} unfinished file(s) from ${layout.staging}`);

  // The directory before the rows: a file listed here whose row commits later is young.
  const clipFiles = readdirSync(layout.clips);
  const clips = (
    await pgGuard(() =>
      pool.query<{ id: string; ext: string; status: string; node: string | null }>('SELECT id, ext, status, node FROM clips'),
    )
  ).rows;
  const expected = new Set<string>();
  for (const row of clips) {
    const name = `${row.id}.${row.ext}`;
    const present = CLIP_ID_PATTERN.test(row.id) && EXT_PATTERN.test(row.ext) && isFile(resolveInside(layout.clips, name));
    if (present) expected.add(name);
    if (row.node !== node) continue;
    if (!present) report.missingFiles.push(row.id);
    else if (row.status === 'processing') report.requeued.push(row.id);
  }
  if (report.missingFiles.length > 0) {
    await pgGuard(() => pool.query('DELETE FROM clips WHERE node = $1 AND id = ANY($2::text[])', [node, report.missingFiles]));
    log.warn(`store: ${report.missingFiles.length} clip(s) had no video file and were removed: ${sample(report.missingFiles)}`);
  }
  if (report.requeued.length > 0) {
    await pgGuard(() =>
      pool.query("UPDATE clips SET status = 'pending' WHERE node = $1 AND status = 'processing' AND id = ANY($2::text[])", [
        node,
        report.requeued,
      ]),
    );
    log.info(`store: ${report.requeued.length} clip(s) interrupted while labelling are pending again`);
  }
  for (const name of clipFiles) {
    const full = join(layout.clips, name);
    if (expected.has(name) || !old(full)) continue;
    rmSync(full, { recursive: true, force: true });
    report.orphanFiles.push(name);
  }
  if (report.orphanFiles.length > 0) {
    log.warn(`store: deleted ${report.orphanFiles.length} file(s) without a clip from ${layout.clips}: ${sample(report.orphanFiles)}`);
  }

  const snapshotFiles = readdirSync(layout.snapshots);
  const events = (await pgGuard(() => pool.query<{ id: string; snapshot: number }>('SELECT id, snapshot FROM events'))).rows;
  const withEvent = new Set<string>();
  const unflagged: string[] = [];
  let flaggedMissing = 0;
  for (const row of events) {
    const name = `${row.id}.jpg`;
    const has = EVENT_ID_PATTERN.test(row.id) && isFile(resolveInside(layout.snapshots, name));
    withEvent.add(name);
    if (has && row.snapshot !== 1) unflagged.push(row.id);
    if (!has && row.snapshot === 1) flaggedMissing++;
  }
  if (unflagged.length > 0) await pgGuard(() => pool.query('UPDATE events SET snapshot = 1 WHERE id = ANY($1::text[])', [unflagged]));
  if (flaggedMissing > 0) log.warn(`store: ${flaggedMissing} event snapshot(s) are missing from ${layout.snapshots} (left flagged)`);
  for (const name of snapshotFiles) {
    const full = join(layout.snapshots, name);
    if (withEvent.has(name) || !old(full)) continue;
    rmSync(full, { recursive: true, force: true });
    report.orphanSnapshots.push(name);
  }
  if (report.orphanSnapshots.length > 0) log.info(`store: deleted ${report.orphanSnapshots.length} snapshot(s) without an event`);

  const modelDirs = readdirSync(layout.models).flatMap((camera) => {
    const dir = join(layout.models, camera);
    return isDir(dir) ? readdirSync(dir).map((name) => join(camera, name)) : [camera];
  });
  const versions = (await pgGuard(() => pool.query<{ folder: string }>('SELECT folder FROM model_versions'))).rows;
  const folders = new Set<string>();
  let missingModels = 0;
  for (const { folder } of versions) {
    const rel = relative(layout.models, join(layout.root, folder));
    folders.add(rel);
    if (!isDir(join(layout.models, rel))) missingModels++;
  }
  if (missingModels > 0) log.warn(`store: ${missingModels} adapted model folder(s) are missing from ${layout.models} (versions left)`);
  for (const rel of modelDirs) {
    const full = join(layout.models, rel);
    if (folders.has(rel) || !old(full)) continue;
    rmSync(full, { recursive: true, force: true });
    report.orphanModels.push(rel);
  }
  if (report.orphanModels.length > 0) log.info(`store: deleted ${report.orphanModels.length} model folder(s) without a version`);
  return report;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function sample(names: string[]): string {
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')}, ...`;
}
