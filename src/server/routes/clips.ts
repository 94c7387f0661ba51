import { Router, type Request } from 'express';
import { vigilError } from '../../errors.js';
import { statSync } from 'node:fs';
import { DEFAULT_MODEL } from '../../model/folder/paths.js';
import type { ClipRecord, Store } from '../../store/index.js';
import { toWebVtt } from '../../timeline/format.js';
import { probe } from '../../video/probe.js';
import { handle } from '../http.js';
import type { JobQueue } from '../jobs.js';
import { checkModelName } from '../model-names.js';

const VIDEO_TYPES: Record<string, string> = {
  'video/mp4': '.mp4',
  'video/webm': '.webm',
  'video/quicktime': '.mov',
  'video/x-matroska': '.mkv',
  'video/x-msvideo': '.avi',
  'video/mp2t': '.ts',
  'application/octet-stream': '.bin',
};

/**
 * `/api/clips`: upload (the request body is the video, streamed to disk), list, read with
 * the timeline, the video with HTTP ranges, WebVTT labels, delete.
 */
export function clipsRouter(o: { store: Store; jobs: JobQueue; uploadBytes: number }): Router {
  const { store, jobs } = o;
  const r = Router();

  async function must(id: string): Promise<ClipRecord> {
    const clip = await store.clips.get(id);
    if (!clip) throw vigilError('VIGIL_ERR_NOT_FOUND', `clip ${id}`);
    return clip;
  }

  r.post(
    '/',
    handle(async (req, res) => {
      // Everything is checked before a byte of the body is read; a refusal closes the
      // connection so the client stops sending.
      let type: string, ext: string, model: string, name: string;
      try {
        type = (req.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
        ext = VIDEO_TYPES[type];
        if (!ext)
          throw vigilError('VIGIL_ERR_UNSUPPORTED_MEDIA', `send the video as the request body with a video/* type (got ${type || 'none'})`);
        model = req.query.model === undefined ? DEFAULT_MODEL : checkModelName(req.query.model);
        name = clipName(req);
        const declared = Number(req.get('content-length'));
        if (declared > o.uploadBytes) throw vigilError('VIGIL_ERR_TOO_LARGE', `upload of ${declared} bytes; the limit is ${o.uploadBytes}`);
      } catch (e) {
        res.set('Connection', 'close');
        throw e;
      }
      const abort = new AbortController();
      req.on('close', () => req.complete || abort.abort());
      let staged;
      try {
        staged = await store.stage(req, { maxBytes: o.uploadBytes, ext, signal: abort.signal });
      } catch (e) {
        res.set('Connection', 'close');
        throw e;
      }
      let clip;
      try {
        const info = await probe(staged.path);
        clip = await store.clips.adopt(staged.path, {
          kind: 'upload',
          cameraId: null,
          name,
          mime: type === 'application/octet-stream' ? mimeFromName(name) : type,
          startedAtMs: null,
          durationMs: info.durationS === null ? null : Math.round(info.durationS * 1000),
          status: 'pending',
          model,
          timeline: null,
        });
      } catch (e) {
        // Adopted files have left staging; whatever is still there is not wanted.
        store.discard(staged.path);
        throw e;
      }
      jobs.add(clip.id, model);
      res.status(202).location(`/api/clips/${clip.id}`).json(clip);
    }),
  );

  r.get(
    '/',
    handle(async (req, res) => {
      const q = req.query;
      const limit = q.limit === undefined ? 100 : Number(q.limit);
      if (!(Number.isInteger(limit) && limit > 0 && limit <= 1000))
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'limit must be an integer 1-1000');
      const kind = queryText(q.kind);
      if (kind !== undefined && kind !== 'upload' && kind !== 'recording')
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'kind must be upload or recording');
      res.json({
        clips: await store.clips.list({
          cameraId: queryText(q.camera),
          kind,
          limit,
          before: queryText(q.before),
        }),
      });
    }),
  );

  r.get(
    '/:id',
    handle(async (req, res) => res.json(await must(req.params.id))),
  );

  r.get(
    '/:id/timeline.json',
    handle(async (req, res) => {
      const clip = await must(req.params.id);
      if (!clip.timeline) throw vigilError('VIGIL_ERR_CONFLICT', `clip ${clip.id} is ${clip.status}; its timeline is not ready`);
      res.json(clip.timeline);
    }),
  );

  r.get(
    '/:id/labels.vtt',
    handle(async (req, res) => {
      const clip = await must(req.params.id);
      if (!clip.timeline) throw vigilError('VIGIL_ERR_CONFLICT', `clip ${clip.id} is ${clip.status}; its labels are not ready`);
      res.type('text/vtt').send(toWebVtt(clip.timeline.segments));
    }),
  );

  r.get(
    '/:id/video',
    handle(async (req, res) => {
      const clip = await must(req.params.id);
      const path = await store.clips.videoPath(clip.id);
      const range = req.headers.range;
      if (range !== undefined) req.headers.range = clampSuffixRanges(range, () => statSync(path).size);
      // send handles Range, If-Range, ETag and HEAD; the path comes from a validated id. An
      // error answer drops this type again (errorMiddleware).
      res.type(clip.mime);
      res.sendFile(path, { acceptRanges: true, cacheControl: true, maxAge: 0, dotfiles: 'deny' });
    }),
  );

  r.delete(
    '/:id',
    handle(async (req, res) => {
      await must(req.params.id);
      await store.clips.remove(req.params.id);
      res.status(204).end();
    }),
  );

  return r;
}

/**
 * RFC 9110 14.1.2: a suffix range longer than the representation means all of it. send's
 * range-parser calls it unsatisfiable (416), so `-N` past the size becomes `0-`.
 * @example clampSuffixRanges('bytes=-99999999', () => 1000) // 'bytes=0-'
 */
export function clampSuffixRanges(header: string, size: () => number): string {
  const m = /^\s*bytes\s*=(.*)$/i.exec(header);
  if (!m || !/(^|,)\s*-\s*\d+\s*(?=,|$)/.test(m[1])) return header;
  let n: number;
  try {
    n = size();
  } catch {
    return header; // send answers for a missing file
  }
  const specs = m[1].split(',').map((spec) => {
    const suffix = /^\s*-\s*(\d+)\s*$/.exec(spec);
    return suffix && n > 0 && Number(suffix[1]) > n ? '0-' : spec;
  });
  return `bytes=${specs.join(',')}`;
}

/** A query parameter as text, undefined when absent. */
function queryText(v: Request['query'][string]): string | undefined {
  if (v === undefined || typeof v === 'string') return v;
  // A repeated (`?a=x&a=y`) or bracketed (`?a[b]=x`) parameter is an array or object: its
  // String() goes on, and the kind check and the store's id checks say what is wrong with it.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- deliberate, see above; '[object Object]' is refused downstream
  return String(v);
}

/** An untyped upload is served with the type its file name suggests (mp4 when it says none). */
function mimeFromName(name: string): string {
  const ext = /\.[a-z0-9]+$/i.exec(name)?.[0].toLowerCase();
  const found = Object.entries(VIDEO_TYPES).find(([type, e]) => e === ext && type !== 'application/octet-stream');
  return found ? found[0] : 'video/mp4';
}

function clipName(req: Request): string {
  const name = typeof req.query.name === 'string' ? req.query.name : '';
  // Shown in the UI only; control characters and paths are not kept.
  const clean = name
    // eslint-disable-next-line no-control-regex -- deliberately strips control characters from a client's file name
    .replace(/[\u0000-\u001f\u007f/\\]/g, '')
    .slice(0, 200)
    .trim();
  return clean || `upload ${new Date().toISOString()}`;
}
