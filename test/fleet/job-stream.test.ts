import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createHook } from 'node:async_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createJobStream,
  GROUP,
  type JobHandlers,
  type JobStream,
  type JobStreamOptions,
  type StreamJob,
} from '../../src/fleet/job-stream.js';
import { connectRedis } from '../../src/fleet/redis.js';
import { createFleetJobQueue } from '../../src/fleet/upload-queue.js';
import { startServer } from '../../src/server/app.js';
import type { ModelPool } from '../../src/server/model-pool.js';
import type { ServerMessage } from '../../src/server/protocol.js';
import type { ClipRecord, ClipStatus, Store } from '../../src/store/index.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

const STALL = 600;
const quiet = { warn: () => {} };
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
  return performance.now() - started;
}

/** A handler that runs until its signal fires, then says it was cancelled. */
type Result = 'done' | 'cancelled';
type Extra = Partial<Omit<JobStreamOptions, 'handlers'>> & { abandon?: JobHandlers['abandon'] };

const untilStopped = (signal: AbortSignal) =>
  new Promise<'cancelled'>((done) => signal.addEventListener('abort', () => done('cancelled'), { once: true }));

interface Worker {
  name: string;
  redis: Redis;
  reader?: Redis;
  stream: JobStream;
  runs: StreamJob[];
  /** Its connections dropped without a word, as a `kill -9` would. */
  kill(): void;
}

describe('fleet: the upload queue over a Redis stream', () => {
  let server: RedisServer;
  let admin: Redis;
  const workers: Worker[] = [];
  let prefix = '';
  let n = 0;

  const connect = (name: string) => connectRedis(server.url, { name, log: quiet, maxRetryDelayMs: 100 });

  /** A worker node's stream (`run` given) or an API node's; `run` may answer at once. */
  async function worker(
    name: string,
    run?: (job: StreamJob, signal: AbortSignal) => Result | Promise<Result>,
    extra: Extra = {},
  ): Promise<Worker> {
    const redis = await connect(name);
    const reader = run ? await connect(`${name}/jobs`) : undefined;
    const runs: StreamJob[] = [];
    const handlers: JobHandlers | undefined = run
      ? {
          run: (job, signal) => {
            runs.push(job);
            return Promise.resolve().then(() => run(job, signal));
          },
          abandon: extra.abandon ?? (() => Promise.resolve()),
        }
      : undefined;
    const stream = await createJobStream({
      redis,
      reader,
      consumer: name,
      prefix,
      stallMs: STALL,
      blockMs: 200,
      log: quiet,
      ...extra,
      handlers,
    });
    const w: Worker = {
      name,
      redis,
      reader,
      stream,
      runs,
      kill() {
        redis.disconnect();
        reader?.disconnect();
      },
    };
    workers.push(w);
    return w;
  }

  const streamKey = () => `${prefix}:jobs`;
  const pendingCount = async () => Number((await admin.xpending(streamKey(), GROUP))[0]);

  before(async () => {
    server = await startRedis();
    admin = await connect('admin');
  });
  beforeEach(() => {
    n += 1;
    prefix = `q${n}`;
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) {
      await w.stream.close();
      for (const r of [w.redis, w.reader]) await r?.quit().catch(() => r.disconnect());
    }
  });
  after(async () => {
    await admin?.quit().catch(() => admin.disconnect());
    await server?.dispose();
  });

  it('two workers share the jobs and each job runs once; done entries leave the stream', async () => {
    const work = async () => {
      await sleep(30);
      return 'done' as const;
    };
    const [a, b] = await Promise.all([worker('a', work), worker('b', work)]);
    const api = await worker('api');
    const clips = Array.from({ length: 12 }, (_, i) => `clip${i}`);
    for (const c of clips) await api.stream.add(c, 'fight');
    await until('every job done', () => a.stream.counts().done + b.stream.counts().done === clips.length);
    const ran = [...a.runs, ...b.runs].map((j) => j.clipId).sort();
    expect(ran).to.deep.equal([...clips].sort());
    expect(a.runs.length, 'a took some').to.be.greaterThan(0);
    expect(b.runs.length, 'b took some').to.be.greaterThan(0);
    expect([...a.runs, ...b.runs].every((j) => j.deliveries === 1 && j.model === 'fight')).to.equal(true);
    expect(await admin.xlen(streamKey())).to.equal(0);
    expect(await pendingCount()).to.equal(0);
    expect(api.stream.counts().added).to.equal(clips.length);
  });

  it('keeps jobs added before any worker made the group; says how many wait', async () => {
    const api = await worker('api');
    await api.stream.add('early1', 'fight');
    await api.stream.add('early2', 'fall');
    await until('waiting read', () => api.stream.waiting() === 2);
    expect([...(await api.stream.queued(['early1', 'early2', 'other']))].sort()).to.deep.equal(['early1', 'early2']);
    const a = await worker('a', () => 'done');
    await until('both done', () => a.stream.counts().done === 2);
    expect(a.runs.map((j) => `${j.clipId}:${j.model}`)).to.deep.equal(['early1:fight', 'early2:fall']);
    await until('waiting read again', () => api.stream.waiting() === 0);
    expect(await api.stream.queued(['early1'])).to.deep.equal(new Set());
  });

  it('a worker killed mid-job: another takes its entry over after the stall bound and runs it', async () => {
    let started = 0;
    const a = await worker('a', (_job, signal) => {
      started = performance.now();
      return untilStopped(signal);
    });
    await a.stream.add('c1', 'fight');
    await until('a takes it', () => a.runs.length === 1);
    const b = await worker('b', () => 'done');
    a.kill();
    const killedAt = performance.now();
    await until('b takes it over', () => b.runs.length === 1);
    const after = performance.now() - killedAt;
    expect(b.runs[0]).to.include({ clipId: 'c1', deliveries: 2 });
    expect(performance.now() - started).to.be.at.least(STALL);
    expect(after).to.be.below(STALL * 4);
    await until('b acks it', () => b.stream.counts().done === 1);
    expect(b.stream.counts().claimed).to.equal(1);
    expect(await admin.xlen(streamKey())).to.equal(0);
  });

  it('a job running longer than the stall bound stays with its worker (it keeps its entry fresh)', async () => {
    const a = await worker('a', async () => {
      await sleep(STALL * 3);
      return 'done' as const;
    });
    await a.stream.add('long', 'fight');
    await until('a takes it', () => a.runs.length === 1);
    const b = await worker('b', () => 'done');
    await until('a finishes', () => a.stream.counts().done === 1);
    expect(b.runs).to.deep.equal([]);
    expect(b.stream.counts().claimed).to.equal(0);
  });

  it('a job that fails each time it is taken (poison) is abandoned after 3 runs, and acked', async () => {
    const abandoned: StreamJob[] = [];
    const a = await worker(
      'a',
      () => {
        throw new Error('worker fell over');
      },
      {
        abandon: (job) => {
          abandoned.push(job);
          return Promise.resolve();
        },
      },
    );
    await a.stream.add('poison', 'fight');
    await until('abandoned', () => abandoned.length === 1, STALL * 10);
    expect(a.runs.map((j) => j.deliveries)).to.deep.equal([1, 2, 3]);
    expect(abandoned[0]).to.include({ clipId: 'poison', deliveries: 4 });
    expect(a.stream.counts()).to.include({ abandoned: 1, done: 0 });
    expect(await admin.xlen(streamKey())).to.equal(0);
    expect(await pendingCount()).to.equal(0);
  });

  it('acks, counts and logs malformed entries and goes on', async () => {
    const warned: string[] = [];
    const a = await worker('a', () => 'done', { log: { warn: (m) => warned.push(m) } });
    await admin.xadd(streamKey(), '*', 'foo', 'bar');
    await admin.xadd(streamKey(), '*', 'clip', 'c1');
    await admin.xadd(streamKey(), '*', 'clip', '../../etc', 'model', 'fight');
    await admin.xadd(streamKey(), '*', 'clip', 'good', 'model', 'fight');
    await until('the good one done', () => a.stream.counts().done === 1);
    expect(a.stream.counts().malformed).to.equal(3);
    expect(a.runs.map((j) => j.clipId)).to.deep.equal(['good']);
    expect(warned.filter((m) => m.includes('names no clip and model'))).to.have.length(3);
    expect(await admin.xlen(streamKey())).to.equal(0);
  });

  it('close() is prompt, idle or mid-job; the running job is handed back and the next worker takes it at once', async () => {
    // A BLOCK longer than the bound: close() unblocks the read rather than waiting it out.
    const idle = await worker('idle', () => 'done', { blockMs: 1500 });
    await sleep(100);
    let t = performance.now();
    await idle.stream.close();
    expect(performance.now() - t).to.be.below(300);

    const a = await worker('a', (_job, signal) => untilStopped(signal));
    await a.stream.add('c1', 'fight');
    await until('a takes it', () => a.runs.length === 1);
    t = performance.now();
    await a.stream.close();
    expect(performance.now() - t).to.be.below(1000);
    expect(await pendingCount()).to.equal(1);

    const b = await worker('b', () => 'done');
    const took = await until('b takes it', () => b.runs.length === 1);
    // Handed back as stalled already, with its count put back: no stall wait, no step nearer poison.
    expect(took).to.be.below(STALL);
    expect(b.runs[0]).to.include({ clipId: 'c1', deliveries: 1 });
  });

  it('leaves no timers or sockets behind once closed and its connections quit', async () => {
    // Every timer and socket made from here on, until it is destroyed (cleared, fired, closed).
    const live = new Map<number, string>();
    const hook = createHook({
      init(id, type) {
        if (type === 'Timeout' || type === 'TCPWRAP') live.set(id, `${type} ${new Error().stack ?? ''}`);
      },
      destroy: (id) => void live.delete(id),
    }).enable();
    try {
      const a = await worker('a', () => 'done');
      await a.stream.add('c1', 'fight');
      await until('done', () => a.stream.counts().done === 1);
      await a.stream.close();
      await Promise.all([a.redis.quit(), a.reader?.quit()]);
      workers.splice(workers.indexOf(a), 1);
      // until()'s own timers are destroyed a turn after they fire.
      for (let i = 0; i < 5; i++) await new Promise((done) => setImmediate(done));
      // The test's own timeout is mocha's.
      expect([...live.values()].filter((stack) => !stack.includes('mocha'))).to.deep.equal([]);
    } finally {
      hook.disable();
    }
    const names = String(await admin.client('LIST'));
    expect(names).not.to.include('name=a ');
    expect(names).not.to.include('name=a/jobs');
  });

  describe('the fleet JobQueue over it', () => {
    /** A store of clips in memory, only as much of one as labelling touches. */
    function fakeStore(ids: string[]) {
      const clips = new Map<string, { status: ClipStatus; error?: unknown }>(ids.map((id) => [id, { status: 'pending' }]));
      const store = {
        clips: {
          get: (id: string) => Promise.resolve(clips.has(id) ? ({ id, ...clips.get(id) } as unknown as ClipRecord) : undefined),
          setStatus: (id: string, status: ClipStatus, extra: { error?: unknown } = {}) => {
            clips.set(id, { status, error: extra.error });
            return Promise.resolve();
          },
          videoPath: (id: string) => Promise.resolve(`/nowhere/${id}.mp4`),
        },
      } as unknown as Store;
      return { store, clips };
    }
    const models = {
      labelClip: (_model: string, _path: string, o: { signal: AbortSignal; onProgress: (t: number, d: number) => void }) => {
        for (let t = 0; t <= 1000; t += 250) o.onProgress(t, 1000);
        return Promise.resolve({ source: { uri: 'x', durationMs: 1000 }, segments: [] });
      },
    } as unknown as ModelPool;

    it('an API node adds, a worker labels the clip with the shared per-clip code; adds before attach are kept', async () => {
      const { store, clips } = fakeStore(['u1', 'u2']);
      const published: ServerMessage[] = [];
      const apiQueue = createFleetJobQueue({ store, models, publish: (m) => published.push(m) });
      apiQueue.add('u1', 'fight'); // before the stream is there
      const api = await worker('api');
      apiQueue.attach(api.stream);
      apiQueue.add('u2', 'fight');

      const workerQueue = createFleetJobQueue({ store, models, publish: (m) => published.push(m) });
      const w = await worker('w', (job, signal) => workerQueue.handlers.run(job, signal));
      await until('both labelled', () => w.stream.counts().done === 2);
      expect(clips.get('u1')?.status).to.equal('ready');
      expect(clips.get('u2')?.status).to.equal('ready');
      const u1 = published.filter((m) => m.type === 'clip' && m.clipId === 'u1').map((m) => m.type === 'clip' && m.status);
      expect(u1[0]).to.equal('pending');
      expect(u1.at(-1)).to.equal('ready');
      expect(u1).to.include('processing');
      await apiQueue.close();
    });

    it('the start-up re-queue adds only the pending clips with no entry', async () => {
      const { store } = fakeStore([]);
      const api = await worker('api');
      const q = createFleetJobQueue({ store, models, publish: () => {} });
      q.attach(api.stream);
      await api.stream.add('kept', 'fight');
      q.requeue([
        { id: 'kept', model: 'fight' },
        { id: 'lost', model: 'fall' },
      ]);
      await until('lost re-added', () => api.stream.counts().added === 2);
      const entries = (await admin.xrange(streamKey(), '-', '+')).map(([, f]) => f.join(' '));
      expect(entries).to.deep.equal(['clip kept model fight', 'clip lost model fall']);
    });

    it('a poison job leaves its clip failed with VIGIL_ERR_JOB_ABANDONED', async () => {
      const { store, clips } = fakeStore(['p1']);
      const published: ServerMessage[] = [];
      const q = createFleetJobQueue({ store, models, publish: (m) => published.push(m) });
      await q.handlers.abandon({ id: '1-0', clipId: 'p1', model: 'fight', deliveries: 4 });
      const failed = clips.get('p1');
      expect(failed?.status).to.equal('failed');
      const error = failed?.error as { code: string; message: string };
      expect(error).to.deep.equal({
        code: 'VIGIL_ERR_JOB_ABANDONED',
        message: 'labelling given up: clip p1 was taken up 3 times and never finished (its workers died or lost Redis)',
      });
      expect(published.at(-1)).to.deep.include({ type: 'clip', clipId: 'p1', status: 'failed' });
      // A clip this node's store does not have (another node's, until the store is shared): nothing to mark.
      await q.handlers.abandon({ id: '2-0', clipId: 'elsewhere', model: 'fight', deliveries: 4 });
    });

    it('a clip whose worker closes goes back to pending; one already ready is not labelled again', async () => {
      const { store, clips } = fakeStore(['c1', 'done1']);
      clips.set('done1', { status: 'ready' });
      const slow = {
        labelClip: (_m: string, _p: string, o: { signal: AbortSignal }) =>
          new Promise((_done, fail) => o.signal.addEventListener('abort', () => fail(new Error('aborted')))),
      } as unknown as ModelPool;
      const q = createFleetJobQueue({ store, models: slow, publish: () => {} });
      const ctl = new AbortController();
      const running = q.handlers.run({ id: '1-0', clipId: 'c1', model: 'fight', deliveries: 1 }, ctl.signal);
      await until('processing', () => clips.get('c1')?.status === 'processing');
      ctl.abort('close');
      expect(await running).to.equal('cancelled');
      expect(clips.get('c1')?.status).to.equal('pending');
      expect(await q.handlers.run({ id: '2-0', clipId: 'done1', model: 'fight', deliveries: 2 }, new AbortController().signal)).to.equal(
        'done',
      );
      expect(clips.get('done1')?.status).to.equal('ready');
    });
  });

  it('a fleet node runs the queue with its own reader connection and closes it with the node', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'vigil-queue-'));
    try {
      const node = await startServer({ port: 0, dataDir, demo: false, fleet: { redis: server.url, nodeId: 'qnode', prefix } });
      expect(String(await admin.client('LIST'))).to.include('name=qnode/jobs');
      const status = (await (await fetch(`${node.url}/api/status`)).json()) as { jobsWaiting: number };
      expect(status.jobsWaiting).to.equal(0);
      const t = performance.now();
      await node.close();
      expect(performance.now() - t).to.be.below(3000);
      expect(String(await admin.client('LIST'))).not.to.include('name=qnode');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
