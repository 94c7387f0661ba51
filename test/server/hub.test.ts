import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import type { WebSocket } from 'ws';
import { createHub, MAX_PENDING_CAMERAS, type Hub } from '../../src/server/hub.js';
import type { CameraStatus, ServerMessage } from '../../src/server/protocol.js';
import type { JsonAnswer } from '../helpers/json.js';

/**
 * A socket under our control: `send` callbacks fire only when the test says the client read
 * them, which is how a slow client looks from the server (its acks stop coming).
 */
function fakeSocket() {
  const ws = new EventEmitter() as EventEmitter & {
    OPEN: 1;
    readyState: number;
    sent: JsonAnswer[];
    acks: Array<() => void>;
    closedWith?: [number, string];
    terminated: boolean;
    pings: number;
    send(data: string, cb: () => void): void;
    close(code: number, reason: string): void;
    terminate(): void;
    ping(): void;
    /** The client reads everything sent so far. */
    read(): void;
    msg(m: unknown): void;
  };
  Object.assign(ws, {
    OPEN: 1,
    readyState: 1,
    sent: [],
    acks: [],
    terminated: false,
    pings: 0,
    send(data: string, cb: () => void) {
      ws.sent.push(JSON.parse(data));
      ws.acks.push(cb);
    },
    close(code: number, reason: string) {
      ws.closedWith = [code, reason];
      ws.readyState = 3;
    },
    terminate() {
      ws.terminated = true;
      ws.readyState = 3;
    },
    ping() {
      ws.pings += 1;
    },
    read() {
      while (ws.acks.length > 0) (ws.acks.shift() as () => void)();
    },
    msg(m: unknown) {
      ws.emit('message', Buffer.from(JSON.stringify(m)), false);
    },
  });
  return ws;
}

const status = (cameraId: string): CameraStatus => ({ cameraId, state: 'live', frames: 0, dropped: 0, gated: 0, lagMs: 0 });
const label = (tMs: number, model = 'fight'): ServerMessage => ({
  type: 'label',
  cameraId: 'a',
  model,
  version: '1.0.0',
  tMs,
  wallMs: 0,
  sourceMs: 0,
  probs: { x: 1 },
  label: 'x',
  confidence: 1,
});
const segment = (event: 'start' | 'update' | 'end', endMs: number): ServerMessage => ({
  type: 'segment',
  cameraId: 'a',
  model: 'fight',
  event,
  segment: { label: 'x', startMs: 0, endMs, confidence: 1, peak: 1 },
});

describe('server/hub', () => {
  let hub: Hub;
  afterEach(() => hub?.close());

  function subscribed(maxQueue = 50) {
    hub = createHub({ heartbeatMs: 60_000, maxQueue, cameras: () => [status('a')] });
    const ws = fakeSocket();
    hub.attach(ws as unknown as WebSocket);
    ws.msg({ type: 'subscribe', cameras: ['a'] });
    ws.read();
    ws.sent.length = 0;
    return ws;
  }

  it('says hello, then acknowledges a subscription with the current status', () => {
    hub = createHub({ heartbeatMs: 60_000, maxQueue: 50, cameras: () => [status('a'), status('b')] });
    const ws = fakeSocket();
    hub.attach(ws as unknown as WebSocket);
    ws.msg({ type: 'subscribe', cameras: ['b'] });
    ws.read();
    expect(ws.sent.map((m) => m.type)).to.deep.equal(['hello', 'subscribed', 'status']);
    expect(ws.sent[2].cameraId).to.equal('b');
  });

  it('sends only what a client subscribed to', () => {
    const ws = subscribed();
    hub.publish({
      type: 'label',
      cameraId: 'other',
      model: 'fight',
      version: '1.0.0',
      tMs: 0,
      wallMs: 0,
      sourceMs: 0,
      probs: {},
      label: 'x',
      confidence: 1,
    });
    hub.publish({ type: 'clip', clipId: 'c', status: 'ready' });
    hub.publish(label(1));
    ws.read();
    expect(ws.sent.map((m) => [m.type, m.cameraId])).to.deep.equal([['label', 'a']]);
  });

  it("gives an events subscriber every camera's event messages and none of their labels, until it unsubscribes", () => {
    hub = createHub({ heartbeatMs: 60_000, maxQueue: 50, cameras: () => [status('a'), status('b')] });
    const ws = fakeSocket();
    hub.attach(ws as unknown as WebSocket);
    ws.msg({ type: 'subscribe', events: true });
    ws.read();
    expect(ws.sent.slice(1)).to.deep.equal([{ type: 'subscribed', cameras: [], clips: false, events: true }]);
    ws.sent.length = 0;
    const event = (cameraId: string, change: 'start' | 'review') => ({
      type: 'event' as const,
      cameraId,
      change,
      event: {
        id: `ev_${cameraId.repeat(16)}`,
        cameraId,
        model: 'fight',
        label: 'fight',
        startMs: 0,
        endMs: 0,
        startedAtMs: 0,
        endedAtMs: 0,
        peak: 1,
        mean: 1,
        state: 'active' as const,
        snapshot: false,
        clipId: null,
        review: { state: 'unreviewed' as const },
      },
    });
    hub.publish(label(1));
    hub.publish(segment('start', 1));
    hub.publish(event('a', 'start'));
    hub.publish(event('b', 'review'));
    ws.read();
    expect(ws.sent.map((m) => [m.type, m.cameraId, m.change])).to.deep.equal([
      ['event', 'a', 'start'],
      ['event', 'b', 'review'],
    ]);
    ws.sent.length = 0;
    ws.msg({ type: 'unsubscribe', events: true });
    hub.publish(event('a', 'start'));
    ws.read();
    expect(ws.sent).to.deep.equal([{ type: 'subscribed', cameras: [], clips: false, events: false }]);
  });

  it('coalesces labels for a client that stopped reading: it gets the latest, in order with segment events', () => {
    const ws = subscribed();
    for (let i = 0; i < 8; i++) hub.publish(label(i)); // fills the in-flight window
    for (let i = 8; i < 100; i++) hub.publish(label(i));
    hub.publish(segment('end', 100));
    hub.publish(label(101));
    hub.publish(label(102));
    ws.read(); // acks flush the queue, which is read in turn
    ws.read();
    const got = ws.sent.map((m) => (m.type === 'label' ? m.tMs : m.event));
    expect(got).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 99, 'end', 102]);
  });

  it("coalesces each model's labels apart: a camera's two models each keep their latest", () => {
    const ws = subscribed();
    for (let i = 0; i < 8; i++) hub.publish(label(i)); // fills the in-flight window
    for (let i = 8; i < 50; i++) {
      hub.publish(label(i, 'fight'));
      hub.publish(label(i, 'fall'));
    }
    ws.read();
    ws.read();
    const got = ws.sent.slice(8).map((m) => (m.type === 'label' ? [m.model, m.tMs] : m.type));
    expect(got).to.deep.equal([
      ['fight', 49],
      ['fall', 49],
    ]);
  });

  it('drops a client whose queue of non-coalescing messages passes the limit (4408), and the others never wait', () => {
    const slow = subscribed(20);
    const fast = fakeSocket();
    hub.attach(fast as unknown as WebSocket);
    fast.msg({ type: 'subscribe', cameras: ['a'] });
    for (let i = 0; i < 40; i++) {
      hub.publish(segment('start', i));
      fast.read();
    }
    expect(slow.closedWith).to.deep.equal([4408, 'VIGIL_ERR_SLOW_CLIENT']);
    expect(fast.closedWith).to.equal(undefined);
    expect(fast.sent.filter((m) => m.type === 'segment').length).to.equal(40);
    expect(hub.clients).to.equal(1);
  });

  it('answers a bad message with a coded error', () => {
    const ws = subscribed();
    ws.emit('message', Buffer.from('{'), false);
    ws.emit('message', Buffer.from([1, 2]), true);
    ws.msg({ type: 'subscribe', cameras: 'all' });
    ws.read();
    expect(ws.sent.map((m) => m.code)).to.deep.equal(['VIGIL_ERR_MESSAGE', 'VIGIL_ERR_MESSAGE', 'VIGIL_ERR_MESSAGE']);
    expect(ws.sent[1].message).to.match(/binary messages are only for \/api\/cameras\/:id\/ingest/);
    expect(ws.closedWith).to.equal(undefined);
  });

  it('terminates a client that misses a heartbeat, and keeps one that answers', async () => {
    hub = createHub({ heartbeatMs: 30, maxQueue: 50, cameras: () => [] });
    const dead = fakeSocket();
    const alive = fakeSocket();
    hub.attach(dead as unknown as WebSocket);
    hub.attach(alive as unknown as WebSocket);
    const pong = setInterval(() => alive.emit('pong'), 10);
    await new Promise((r) => setTimeout(r, 120));
    clearInterval(pong);
    expect(dead.terminated).to.equal(true);
    expect(alive.terminated).to.equal(false);
    expect(alive.pings).to.be.greaterThan(1);
  });

  it(`keeps ids of existing cameras, at most ${MAX_PENDING_CAMERAS} others, and answers with what the message named`, () => {
    hub = createHub({ heartbeatMs: 60_000, maxQueue: 1000, cameras: () => [status('a'), status('b')] });
    const ws = fakeSocket();
    hub.attach(ws as unknown as WebSocket);
    const madeUp = Array.from({ length: MAX_PENDING_CAMERAS + 3 }, (_, i) => `x${i}`);
    ws.msg({ type: 'subscribe', cameras: ['a', ...madeUp, 'b'] });
    ws.read();
    expect(ws.sent.map((m) => m.type)).to.deep.equal(['hello', 'subscribed', 'error', 'status', 'status']);
    expect(ws.sent[1].cameras).to.deep.equal(['a', ...madeUp.slice(0, MAX_PENDING_CAMERAS), 'b']);
    expect(ws.sent[2]).to.deep.equal({
      type: 'error',
      code: 'VIGIL_ERR_NOT_FOUND',
      message:
        `not found: 3 of the ${MAX_PENDING_CAMERAS + 5} camera ids name no camera and were not subscribed ` +
        `(a client may wait for at most ${MAX_PENDING_CAMERAS} cameras that do not exist)`,
    });
    expect(hub.subscriptions).to.equal(MAX_PENDING_CAMERAS + 2);
    // Again: nothing new, so no statuses, and the answer is no longer than the message.
    ws.sent.length = 0;
    ws.msg({ type: 'subscribe', cameras: ['b', 'x0'] });
    ws.msg({ type: 'unsubscribe', cameras: ['a', 'x1'] });
    ws.msg({ type: 'subscribe', cameras: '*' });
    ws.msg({ type: 'subscribe', clips: true });
    ws.read();
    expect(ws.sent).to.deep.equal([
      { type: 'subscribed', cameras: ['b', 'x0'], clips: false, events: false },
      { type: 'subscribed', cameras: [], clips: false, events: false },
      { type: 'subscribed', cameras: ['*'], clips: false, events: false },
      { type: 'status', ...status('a') },
      { type: 'subscribed', cameras: ['*'], clips: true, events: false },
    ]);
    expect(hub.subscriptions).to.equal(0);
  });

  it('lets a deleted camera go at the next heartbeat, and keeps ids waiting for their camera', async () => {
    let cameras = [status('a')];
    hub = createHub({ heartbeatMs: 20, maxQueue: 50, cameras: () => cameras });
    const ws = fakeSocket();
    hub.attach(ws as unknown as WebSocket);
    const pong = setInterval(() => ws.emit('pong'), 5);
    try {
      ws.msg({ type: 'subscribe', cameras: ['a', 'later'] });
      cameras = [status('later')];
      await new Promise((r) => setTimeout(r, 60));
      expect(hub.subscriptions).to.equal(1);
      cameras = [status('a'), status('later')];
      ws.read();
      ws.sent.length = 0;
      hub.publish({ type: 'status', ...status('a') });
      hub.publish({ type: 'status', ...status('later') });
      ws.read();
      expect(ws.sent.map((m) => m.cameraId)).to.deep.equal(['later']);
    } finally {
      clearInterval(pong);
    }
  });
});
