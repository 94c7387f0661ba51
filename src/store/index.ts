/**
 * The live service's store: cameras and clips in SQLite (or PostgreSQL for a fleet), clip videos
 * on disk, kept in agreement across crashes (see store.ts and pg/store.ts).
 */
export { openStore, type Store, type StoreKind, type StoreOptions } from './store.js';
export { openPgStore, type PgStoreOptions } from './pg/store.js';
export type { CameraInput, CameraRecord, CameraRepo, RecordPolicy, RecordPolicyInput } from './cameras.js';
export type { AdoptMeta, ClipKind, ClipQuery, ClipRecord, ClipRepo, ClipStatus, ClipSummary, StatusExtra } from './clips.js';
export { CLIP_KINDS, CLIP_STATUSES } from './clips.js';
export type { EventPage, EventProgress, EventQuery, EventRepo, EventStart, ReviewInput } from './events.js';
export type { OutboxRepo, OutboxRow } from './outbox.js';
export type { StageOptions } from './staging.js';
export type { RetentionPolicy } from './retention.js';
export type { ReconcileReport } from './reconcile.js';
export { CAMERA_ID_PATTERN, CLIP_ID_PATTERN, EVENT_ID_PATTERN, assertCameraId, assertClipId, assertEventId } from './ids.js';
export { resolveInside } from './paths.js';
export type { ModelVersion, ModelVersionInput, ModelVersionRepo } from './model-versions.js';
