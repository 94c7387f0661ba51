import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { EventChange } from '../../src/events/types.js';
import { createSinks, parseSinksOptions, type CameraInfo, type Sinks } from '../../src/sinks/index.js';
import { topicLevel } from '../../src/sinks/topics.js';
import type { Store } from '../../src/store/index.js';
import { startBroker, subscribe, type Broker, type Subscriber } from '../helpers/mosquitto.js';
import { tempStores } from '../store/temp-dir.js';
import { fixtureJpeg, lifecycle, testEvent, until } from './events.js';

const CAMERAS: CameraInfo[] = [
  { id: 'door', name: 'Front door', models: ['fight'], labels: ['fight'] },
  { id: 'hall', name: 'Hall', models: ['fight', 'fall'], labels: ['fight', 'falling'] },
];
const FAST = { minBackoffMs: 100, maxBackoffMs: 400 };

describe('sinks: MQTT against a real mosquitto', function () {
  this.timeout(60_000);
  let broker: Broker | undefined;
  let sinks: Sinks | undefined;
  const subscribers: Subscriber[] = [];
  let dir = '';

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vigil-mqtt-'));
  });
  afterEach(async () => {
    await sinks?.close();
    sinks = undefined;
    for (const s of subscribers.splice(0)) await s.close();
    await broker?.dispose();
    broker = undefined;
    await rm(dir, { recursive: true, force: true });
  });
  // After the hooks above: mocha runs afterEach hooks in order, and the sinks must close before their store.
  const stores = tempStores();

  const start = async (store: Store, url: string, snapshot?: string) => {
    sinks = await createSinks({
      options: parseSinksOptions({ mqtt: { url } }),
      outbox: store.outbox,
      cameras: () => CAMERAS,
      snapshotPath: () => snapshot ?? null,
      timing: FAST,
    });
    return sinks;
  };
  const watch = async (url: string, topics: string[], options?: { clientId?: string; clean?: boolean }) => {
    const s = await subscribe(url, topics, options);
    subscribers.push(s);
    return s;
  };
  const up = (s: Sinks) => until(() => s.statuses()[0]?.state === 'up', 'mqtt up');
  const eventsOf = (s: Subscriber) =>
    s.received
      .filter((m) => m.topic === 'vigil/events')
      .map((m) => JSON.parse(m.payload.toString()) as { type: string; event: { id: string } });

  it('publishes events in order (QoS 1), retained states, snapshot, status, availability and discovery', async () => {
    broker = await startBroker();
    const jpeg = await fixtureJpeg(dir);
    const live = await watch(broker.url, ['vigil/#']);
    const s = await start(stores.open(), broker.url, jpeg);
    await up(s);
    s.cameraStatus('door', 'live');
    for (const c of lifecycle(1, { snapshot: true })) s.publish(c);
    await live.next((m) => m.topic === 'vigil/door/fight' && m.payload.toString() === 'OFF');
    expect(eventsOf(live).map((e) => [e.type, e.event.id])).to.deep.equal([
      ['new', 'ev_0000000000000001'],
      ['update', 'ev_0000000000000001'],
      ['end', 'ev_0000000000000001'],
    ]);
    const events = live.received.filter((m) => m.topic === 'vigil/events');
    expect(events.map((m) => [m.qos, m.retain])).to.deep.equal([
      [1, false],
      [1, false],
      [1, false],
    ]);
    expect(JSON.parse(events[2].payload.toString())).to.deep.equal({ type: 'end', event: lifecycle(1, { snapshot: true })[2].event });
    expect(live.received.filter((m) => m.topic === 'vigil/door/fight').map((m) => m.payload.toString())).to.deep.equal(['ON', 'ON', 'OFF']);

    // A subscriber that comes later sees what describes now, retained.
    const later = await watch(broker.url, ['vigil/#', 'homeassistant/#']);
    const retained = async (topic: string) => {
      const m = await later.next((r) => r.topic === topic);
      expect(m.retain, topic).to.equal(true);
      return m.payload;
    };
    expect((await retained('vigil/available')).toString()).to.equal('online');
    expect((await retained('vigil/door/fight')).toString()).to.equal('OFF');
    expect((await retained('vigil/door/status')).toString()).to.equal('live');
    expect((await retained('vigil/door/fight/snapshot')).equals(readFileSync(jpeg))).to.equal(true);
    const config = JSON.parse((await retained('homeassistant/binary_sensor/vigil_hall_falling/config')).toString());
    expect(config).to.deep.equal({
      name: 'falling',
      unique_id: 'vigil_hall_falling',
      object_id: 'vigil_hall_falling',
      state_topic: 'vigil/hall/falling',
      payload_on: 'ON',
      payload_off: 'OFF',
      availability_topic: 'vigil/available',
      payload_available: 'online',
      payload_not_available: 'offline',
      device_class: 'safety',
      device: { identifiers: ['vigil_hall'], name: 'Hall', manufacturer: 'vigil', model: 'fight, fall' },
    });
    // One config per camera × alert label, and nothing retained on the events topic.
    await until(() => later.received.filter((m) => m.topic.startsWith('homeassistant/')).length === 3, 'three configs');
    expect(later.received.filter((m) => m.topic.startsWith('homeassistant/')).map((m) => m.topic)).to.have.members([
      'homeassistant/binary_sensor/vigil_door_fight/config',
      'homeassistant/binary_sensor/vigil_hall_fight/config',
      'homeassistant/binary_sensor/vigil_hall_falling/config',
    ]);
    expect(later.received.some((m) => m.topic === 'vigil/events')).to.equal(false);

    // A clean close says offline itself.
    await s.close();
    sinks = undefined;
    const offline = await live.next((m) => m.topic === 'vigil/available' && m.payload.toString() === 'offline');
    expect(offline.payload.toString()).to.equal('offline');
  });

  it('keeps camera ids from making topic filters or extra levels', async () => {
    expect(topicLevel('a+b/#c\u0000d')).to.equal('a_b__c_d');
    expect(topicLevel('')).to.equal('_');
    broker = await startBroker();
    const live = await watch(broker.url, ['vigil/#']);
    const s = await start(stores.open(), broker.url);
    await up(s);
    s.publish({ type: 'start', event: testEvent(2, { cameraId: 'x/+/#' }) });
    const m = await live.next((r) => r.topic.endsWith('/fight'));
    expect(m.topic).to.equal('vigil/x____/fight');
  });

  it('the last will says offline when vigil dies without disconnecting', async () => {
    broker = await startBroker();
    const live = await watch(broker.url, ['vigil/available']);
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'mqtt-crash-child.ts'), broker.url], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((done, fail) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('up') && done());
        child.once('exit', (code) => fail(new Error(`child exited ${code}`)));
      });
      await live.next((m) => m.payload.toString() === 'online');
      child.kill('SIGKILL');
      const m = await live.next((r) => r.payload.toString() === 'offline');
      expect(m.topic).to.equal('vigil/available');
      // Retained: a subscriber arriving after the crash learns it too.
      const later = await watch(broker.url, ['vigil/available']);
      const seen = await later.next(() => true);
      expect([seen.payload.toString(), seen.retain]).to.deep.equal(['offline', true]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a broker stopped mid-stream gets everything queued, in order, once, when it returns', async () => {
    broker = await startBroker({ persistence: true });
    // A persistent session, so what vigil publishes while this subscriber reconnects is kept for it.
    const live = await watch(broker.url, ['vigil/events'], { clientId: 'test-sub', clean: false });
    const s = await start(stores.open(), broker.url);
    await up(s);
    const changes: EventChange[] = [];
    for (let n = 1; n <= 4; n++) changes.push(...lifecycle(n));
    for (const c of changes.slice(0, 6)) s.publish(c);
    await until(() => eventsOf(live).length === 6, 'first half');

    await broker.stop();
    await until(() => s.statuses()[0].state === 'down', 'mqtt down');
    for (const c of changes.slice(6)) s.publish(c);
    const down = s.statuses()[0];
    expect(down).to.include({ name: 'mqtt', state: 'down', queued: 6, dropped: 0 });
    expect(down.lastError?.code).to.equal('VIGIL_ERR_SINK');

    await broker.start();
    await until(() => new Set(eventsOf(live).map((e) => `${e.type}:${e.event.id}`)).size === 12, 'second half', 30_000);
    await until(() => s.statuses()[0].queued === 0, 'outbox empty');
    const sent = changes.map((c) => `${c.type === 'start' ? 'new' : c.type}:${c.event.id}`);
    const messages = live.received.filter((m) => m.topic === 'vigil/events');
    const key = (m: (typeof messages)[number]) => {
      const { type, event } = JSON.parse(m.payload.toString()) as { type: string; event: { id: string } };
      return `${type}:${event.id}`;
    };
    // Every event, in order; a repeat only as MQTT allows it: the broker redelivering, with DUP
    // set, what this subscriber's session had not acknowledged when the broker stopped. vigil
    // itself sent each once (a repeat it sent would reach the subscriber as a new message).
    const firsts = [...new Set(messages.map(key))];
    expect(firsts).to.deep.equal(sent);
    const seen = new Set<string>();
    for (const m of messages) {
      const k = key(m);
      if (seen.has(k)) expect(m.dup, `${k} again without DUP`).to.equal(true);
      seen.add(k);
    }
    expect(s.statuses()[0]).to.include({ state: 'up', queued: 0, lastError: null });
  });

  it('a broker unreachable at start: the sink is down with a coded error, queues, and delivers once it appears', async () => {
    const store = stores.open();
    const { freePort } = await import('../helpers/mosquitto.js');
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const s = await start(store, url);
    await until(() => s.statuses()[0].state === 'down', 'mqtt down');
    s.publish(lifecycle(5)[0]);
    expect(s.statuses()[0]).to.deep.include({ state: 'down', queued: 1 });
    expect(s.statuses()[0].lastError).to.deep.equal({
      code: 'VIGIL_ERR_SINK',
      message: `sink cannot deliver: mqtt ${url}: ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:${port})`,
    });
    broker = await startBroker({ port });
    await up(s);
    await until(() => s.statuses()[0].queued === 0, 'delivered');
    const later = await watch(broker.url, ['vigil/door/fight']);
    expect((await later.next(() => true)).payload.toString()).to.equal('ON');
  });
});
