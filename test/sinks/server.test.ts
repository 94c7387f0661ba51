import { expect } from 'chai';
import { freePort, startBroker, subscribe, type Broker, type Subscriber } from '../helpers/mosquitto.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
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

  it("announces each camera to Home Assistant and publishes its state on the camera's status topic", async () => {
    broker = await startBroker();
    t = await startTestServer({ sinks: { mqtt: { url: broker.url } } });
    sub = await subscribe(broker.url, ['vigil/+/status', 'homeassistant/#']);
    // Nothing listens on port 1: the camera goes from starting to reconnecting.
    const created = await t.api('/api/cameras', { method: 'POST', body: { id: 'gate', source: 'rtsp://127.0.0.1:1/x', model: 'fight' } });
    expect(created.status).to.equal(201);
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

  it('has no sinks unless configured', async () => {
    t = await startTestServer();
    expect((await t.api('/api/status')).body.sinks).to.deep.equal([]);
  });
});
