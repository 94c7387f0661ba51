import { Router, type Request } from 'express';
import { vigilError } from '../../errors.js';
import { DEFAULT_MODEL } from '../../model/paths.js';
import { resolveModelDir } from '../../model/model-folder.js';
import type { ClipRecord, Store } from '../../store/index.js';
import { toWebVtt } from '../../timeline/format.js';
import { probe } from '../../video/probe.js';
import { handle } from '../http.js';
import type { JobQueue } from '../jobs.js';

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

  function must(id: string): ClipRecord {
    const clip = store.clips.get(id);
    if (!clip) throw vigilError('VIGIL_ERR_NOT_FOUND', `clip ${id}`);
    return clip;
  }

  r.post('/', handle(async (req, res) => {
    const type = (req.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    const ext = VIDEO_TYPES[type];
    if (!ext) throw vigilError('VIGIL_ERR_UNSUPPORTED_MEDIA', `send the video as the request body with a video/* type (got ${type || 'none'})`);
    const model = typeof req.query.model === 'string' ? req.query.model : DEFAULT_MODEL;
    resolveModelDir(model);
    const declared = Number(req.get('content-length'));
    if (declared > o.uploadBytes) {
      // Refused before reading a byte; the connection closes so the client stops sending.
      res.set('Connection', 'close');
      throw vigilError('VIGIL_ERR_TOO_LARGE', `upload of ${declared} bytes; the limit is ${o.uploadBytes}`);
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
    let info;
    try {
      info = await probe(staged.path);
    } catch (e) {
      store.discard(staged.path);
      throw e;
    }
    const clip = await store.clips.adopt(staged.path, {
      kind: 'upload',
      cameraId: null,
      name: clipName(req),
      mime: type === 'application/octet-stream' ? mimeFromName(clipName(req)) : type,
      startedAtMs: null,
      durationMs: info.durationS === null ? null : Math.round(info.durationS * 1000),
      status: 'pending',
      model,
      timeline: null,
    });
    jobs.add(clip.id, model);
    res.status(202).location(`/api/clips/${clip.id}`).json(clip);
  }));

  r.get('/', handle((req, res) => {
    const q = req.query;
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!(Number.isInteger(limit) && limit > 0 && limit <= 1000)) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'limit must be an integer 1-1000');
    const kind = q.kind === undefined ? undefined : String(q.kind);
    if (kind !== undefined && kind !== 'upload' && kind !== 'recording') throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'kind must be upload or recording');
    res.json({
      clips: store.clips.list({
        cameraId: q.camera === undefined ? undefined : String(q.camera),
        kind,
        limit,
        before: q.before === undefined ? undefined : String(q.before),
      }),
    });
  }));

  r.get('/:id', handle((req, res) => res.json(must(req.params.id))));

  r.get('/:id/timeline.json', handle((req, res) => {
    const clip = must(req.params.id);
    if (!clip.timeline) throw vigilError('VIGIL_ERR_CONFLICT', `clip ${clip.id} is ${clip.status}; its timeline is not ready`);
    res.json(clip.timeline);
  }));

  r.get('/:id/labels.vtt', handle((req, res) => {
    const clip = must(req.params.id);
    if (!clip.timeline) throw vigilError('VIGIL_ERR_CONFLICT', `clip ${clip.id} is ${clip.status}; its labels are not ready`);
    res.type('text/vtt').send(toWebVtt(clip.timeline.segments));
  }));

  r.get('/:id/video', handle((req, res) => {
    const clip = must(req.params.id);
    // send handles Range, If-Range, ETag and HEAD; the path comes from a validated id.
    res.type(clip.mime);
    res.sendFile(store.clips.videoPath(clip.id), { acceptRanges: true, cacheControl: true, maxAge: 0, dotfiles: 'deny' });
  }));

  r.delete('/:id', handle((req, res) => {
    must(req.params.id);
    store.clips.remove(req.params.id);
    res.status(204).end();
  }));

  return r;
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
  const clean = name.replace(/[\u0000-\u001f\u007f/\\]/g, '').slice(0, 200).trim();
  return clean || `upload ${new Date().toISOString()}`;
}
