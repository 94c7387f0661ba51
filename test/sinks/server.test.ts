import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startBroker, subscribe, type Broker, type Subscriber } from '../helpers/mosquitto.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import type { VigilEvent } from '../../src/events/types.js';
import { fixture } from '../helpers/clips.js';
import { lifecycle, until } from './events.js';

describe('sinks: in the server', function () {
  this.timeout(60_000);
  let t: TestServer | undefined;
  let broker: Broker | undefined;
  let sub: Subscriber | undefined;
  afterEach(async () => {
    await sub?.close();
    await t?.stop();
    await broker?.dispose();
    sub = t = broker = undefined;
  });

  it('starts with its broker unreachable, reports the sink down in /api/status, and recovers when the broker appears', async () => {
    const port = await freePort();
    t = await startTestServer({ sinks: { mqtt: { url: `mqtt://127.0.0.1:${port}` } } });
    const sinks = async () => (await t!.api('/api/status')).body.sinks;
    await until(() => t!.server.sinks.statuses()[0].state === 'down', 'down');
    t.server.sinks.publish(lifecycle(1)[0]);
    const down = await sinks();
    expect(down).to.have.length(1);
    expect(down[0]).to.deep.include({ name: 'mqtt', state: 'down', queued: 1, dropped: 0 });
    expect(down[0].lastError.code).to.equal('VIGIL_ERR_SINK');
    expect(down[0].lastError.message).to.match(/^sink cannot deliver: mqtt mqtt:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);

    broker = await startBroker({ port });
    await until(() => t!.server.sinks.statuses()[0].queued === 0, 'delivered', 30_000);
    expect((await sinks())[0]).to.deep.equal({ name: 'mqtt', state: 'up', queued: 0, dropped: 0, lastError: null });
    sub = await subscribe(broker.url, ['vigil/door/fight']);
    expect((await sub.next(() => true)).payload.toString()).to.equal('ON');
  });

  it("announces each camera (each of its models' alerts) to Home Assistant and publishes its state on the camera's status topic", async () => {
    broker = await startBroker();
    t = await startTestServer({ sinks: { mqtt: { url: broker.url } } });
    sub = await subscribe(broker.url, ['vigil/+/status', 'homeassistant/#']);
    // Nothing listens on port 1: the camera goes from starting to reconnecting.
    const body = { id: 'gate', source: 'rtsp://127.0.0.1:1/x', models: ['fight', 'fall'] };
    const created = await t.api('/api/cameras', { method: 'POST', body });
    expect(created.status).to.equal(201);
    // One device, a sensor per alert of each of its models.
    const fall = await sub.next((m) => m.topic === 'homeassistant/binary_sensor/vigil_gate_falling/config');
    expect(JSON.parse(fall.payload.toString())).to.deep.include({ state_topic: 'vigil/gate/falling' });
    const config = await sub.next((m) => m.topic === 'homeassistant/binary_sensor/vigil_gate_fight/config');
    expect(JSON.parse(config.payload.toString())).to.deep.include({
      state_topic: 'vigil/gate/fight',
      availability_topic: 'vigil/available',
    });
    await sub.next((m) => m.topic === 'vigil/gate/status' && m.payload.toString() === 'reconnecting');
    const later = await subscribe(broker.url, ['vigil/gate/status']);
    const kept = await later.next(() => true);
    await later.close();
    expect([kept.payload.toString(), kept.retain]).to.deep.equal(['reconnecting', true]);
    expect((await t.api('/api/status')).body.sinks).to.deep.equal([{ name: 'mqtt', state: 'up', queued: 0, dropped: 0, lastError: null }]);
  });

  it("pushes a real camera's events: MQTT's vigil/events, the ON/OFF state and the snapshot agree with REST", async () => {
    broker = await startBroker();
    t = await startTestServer({ sinks: { mqtt: { url: broker.url } } });
    sub = await subscribe(broker.url, ['vigil/events', 'vigil/demo/fight', 'vigil/demo/fight/snapshot']);
    const camera = { id: 'demo', source: fixture('demo.mp4'), model: 'fight', loop: true };
    expect((await t.api('/api/cameras', { method: 'POST', body: camera })).status).to.equal(201);
    // The demo clip turns into a fight after 2 s: an event opens, and ends when the loop walks again.
    const json = (m: { payload: Buffer }) => JSON.parse(m.payload.toString()) as { type: string; event: VigilEvent };
    const started = json(await sub.next((m) => m.topic === 'vigil/events' && json(m).type === 'new', 30_000));
    expect(started.event).to.deep.include({ cameraId: 'demo', model: 'fight', label: 'fight', state: 'active' });
    await sub.next((m) => m.topic === 'vigil/demo/fight' && m.payload.toString() === 'ON');
    const ended = json(
      await sub.next((m) => m.topic === 'vigil/events' && json(m).type === 'end' && json(m).event.id === started.event.id, 30_000),
    );
    await sub.next((m) => m.topic === 'vigil/demo/fight' && m.payload.toString() === 'OFF');
    // The state is retained: a client that subscribes later is told it at once.
    const later = await subscribe(broker.url, ['vigil/demo/fight']);
    const kept = await later.next(() => true);
    await later.close();
    expect(kept.retain).to.equal(true);
    expect(['ON', 'OFF']).to.include(kept.payload.toString());
    const stored = (await t.api(`/api/events/${started.event.id}`)).body as VigilEvent;
    expect(ended.event).to.deep.equal(stored);
    expect(stored.state).to.equal('ended');
    if (stored.snapshot) {
      const jpeg = await sub.next((m) => m.topic === 'vigil/demo/fight/snapshot');
      expect([jpeg.payload[0], jpeg.payload[1]]).to.deep.equal([0xff, 0xd8]);
    }
  });

  it("empties a deleted camera's retained topics (discovery configs, states, snapshot, status); other cameras keep theirs", async () => {
    broker = await startBroker();
    t = await startTestServer({ sinks: { mqtt: { url: broker.url } } });
    sub = await subscribe(broker.url, ['vigil/#', 'homeassistant/#']);
    const demo = { id: 'demo', source: fixture('demo.mp4'), models: ['fight', 'fall'], loop: true };
    expect((await t.api('/api/cameras', { method: 'POST', body: demo })).status).to.equal(201);
    const gate = { id: 'gate', source: 'rtsp://127.0.0.1:1/x', model: 'fight' };
    expect((await t.api('/api/cameras', { method: 'POST', body: gate })).status).to.equal(201);
    await sub.next((m) => m.topic === 'vigil/demo/fight' && m.payload.toString() === 'ON', 30_000);
    await sub.next((m) => m.topic === 'vigil/demo/fight/snapshot', 15_000);
    await sub.next((m) => m.topic === 'vigil/gate/status' && m.payload.toString() === 'reconnecting');
    const retained = async (topics: string[]) => {
      const s = await subscribe(broker!.url, topics);
      // Retained messages come right after the subscription; give the broker a moment.
      await new Promise((r) => setTimeout(r, 1000));
      await s.close();
      return s.received.filter((m) => m.retain && m.payload.length > 0).map((m) => m.topic);
    };
    const before = await retained(['vigil/demo/#', 'homeassistant/binary_sensor/vigil_demo_fight/config']);
    expect(before).to.include.members([
      'vigil/demo/fight',
      'vigil/demo/fight/snapshot',
      'vigil/demo/status',
      'homeassistant/binary_sensor/vigil_demo_fight/config',
    ]);

    expect((await t.api('/api/cameras/demo', { method: 'DELETE' })).status).to.equal(204);
    // Home Assistant drops a sensor whose config topic is emptied.
    for (const topic of [
      'homeassistant/binary_sensor/vigil_demo_fight/config',
      'homeassistant/binary_sensor/vigil_demo_falling/config',
      'vigil/demo/fight',
      'vigil/demo/fight/snapshot',
      'vigil/demo/status',
    ])
      await sub.next((m) => m.topic === topic && m.payload.length === 0);
    // The outbox may still deliver the camera's last changes: on vigil/events, never as its state again.
    await until(() => t!.server.sinks.statuses()[0].queued === 0, 'delivered');
    const left = await retained(['vigil/demo/#', 'homeassistant/binary_sensor/+/config']);
    expect(left.filter((topic) => topic.includes('demo'))).to.deep.equal([]);
    expect(await retained(['vigil/gate/status', 'homeassistant/binary_sensor/vigil_gate_fight/config'])).to.have.members([
      'vigil/gate/status',
      'homeassistant/binary_sensor/vigil_gate_fight/config',
    ]);
  });

  it('takes the broker from three lines of the config file, and Home Assistant discovers the demo camera', async () => {
    broker = await startBroker();
    const dir = mkdtempSync(join(tmpdir(), 'vigil-mqtt-config-'));
    const configFile = join(dir, 'vigil.yml');
    writeFileSync(configFile, `mqtt:\n  url: ${broker.url}\n`);
    try {
      sub = await subscribe(broker.url, ['homeassistant/binary_sensor/#', 'vigil/available']);
      t = await startTestServer({ configFile, demo: true });
      const config = await sub.next((m) => m.topic === 'homeassistant/binary_sensor/vigil_demo_fight/config', 30_000);
      expect(JSON.parse(config.payload.toString())).to.deep.include({
        state_topic: 'vigil/demo/fight',
        availability_topic: 'vigil/available',
      });
      await sub.next((m) => m.topic === 'vigil/available' && m.payload.toString() === 'online');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has no sinks unless configured', async () => {
    t = await startTestServer();
    expect((await t.api('/api/status')).body.sinks).to.deep.equal([]);
  });
});
