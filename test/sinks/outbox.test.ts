import { expect } from 'chai';
import { vigilError } from '../../src/errors.js';
import { createDelivery, permanent, type Sender } from '../../src/sinks/outbox.js';
import { tempStores } from '../store/temp-dir.js';
import { until } from './events.js';

/** A sender the test steers: each delivery waits for the test's verdict, or takes the default. */
function steeredSender(name = 'test') {
  const sent: unknown[] = [];
  const attempts: unknown[] = [];
  let mode: 'ok' | 'fail' | 'hang' | 'refuse' = 'ok';
  const sender: Sender = {
    name,
    deliver(payload) {
      attempts.push(payload);
      if (mode === 'hang') return new Promise(() => undefined);
      if (mode === 'fail') return Promise.reject(vigilError('VIGIL_ERR_SINK', 'test: down'));
      if (mode === 'refuse') return Promise.reject(permanent(vigilError('VIGIL_ERR_SINK', 'test: answered 400')));
      sent.push(payload);
      return Promise.resolve();
    },
  };
  return { sender, sent, attempts, set: (m: typeof mode) => void (mode = m) };
}

describe('sinks: outbox delivery', () => {
  const stores = tempStores();

  it('delivers in order, and a failing sink holds its queue and retries with backoff until it succeeds', async () => {
    const store = stores.open();
    const s = steeredSender();
    s.set('fail');
    const d = await createDelivery({ repo: store.outbox, sender: s.sender, minBackoffMs: 20, maxBackoffMs: 80 });
    for (let i = 0; i < 5; i++) await d.enqueue({ i });
    await until(() => s.attempts.length >= 4, 'retries');
    // Every retry is of the first row: order is kept over throughput.
    expect(s.attempts.every((p) => (p as { i: number }).i === 0)).to.equal(true);
    expect(d.stats()).to.include({ queued: 5, dropped: 0 });
    expect(d.stats().lastError).to.include({ code: 'VIGIL_ERR_SINK', message: 'sink cannot deliver: test: down' });
    s.set('ok');
    await until(() => s.sent.length === 5, 'delivery');
    expect(s.sent).to.deep.equal([0, 1, 2, 3, 4].map((i) => ({ i })));
    expect(d.stats()).to.deep.equal({ queued: 0, dropped: 0, lastError: null });
    expect(await store.outbox.count('test')).to.equal(0);
    await d.stop();
  });

  it('enqueue is a synchronous insert even while the sink hangs', async () => {
    const store = stores.open();
    const s = steeredSender();
    s.set('hang');
    const d = await createDelivery({ repo: store.outbox, sender: s.sender });
    const results = [];
    for (let i = 0; i < 200; i++) results.push(await d.enqueue({ i }));
    expect(results.every((r) => r === undefined)).to.equal(true);
    expect(await store.outbox.count('test')).to.equal(200);
    expect(d.stats().queued).to.equal(200);
    expect(s.attempts).to.have.length(1);
    // The hung send never settles (real senders have timeouts): stop() only marks it stopped.
    void d.stop();
  });

  it('is bounded: past maxRows the oldest rows are dropped and counted', async () => {
    const store = stores.open();
    const s = steeredSender();
    s.set('fail');
    const d = await createDelivery({ repo: store.outbox, sender: s.sender, maxRows: 3, minBackoffMs: 10_000 });
    for (let i = 0; i < 5; i++) await d.enqueue({ i });
    expect(d.stats()).to.include({ queued: 3, dropped: 2 });
    await d.stop();
    const left = [];
    for (let row = await store.outbox.head('test'); row; row = await store.outbox.head('test')) {
      left.push(row.payload);
      await store.outbox.remove(row.seq);
    }
    expect(left).to.deep.equal([{ i: 2 }, { i: 3 }, { i: 4 }]);
  });

  it('drops a row the sink refuses for good, counts it, and goes on', async () => {
    const store = stores.open();
    const s = steeredSender();
    s.set('refuse');
    const d = await createDelivery({ repo: store.outbox, sender: s.sender, minBackoffMs: 10 });
    await d.enqueue({ i: 0 });
    await until(() => d.stats().dropped === 1, 'drop');
    s.set('ok');
    await d.enqueue({ i: 1 });
    await until(() => s.sent.length === 1, 'next');
    expect(s.sent).to.deep.equal([{ i: 1 }]);
    expect(d.stats()).to.include({ queued: 0, dropped: 1 });
    await d.stop();
  });

  it('what was queued at a stop survives a restart and is delivered, in order, after it', async () => {
    const first = stores.open();
    const s = steeredSender();
    s.set('fail');
    const d = await createDelivery({ repo: first.outbox, sender: s.sender, minBackoffMs: 10_000 });
    for (let i = 0; i < 3; i++) await d.enqueue({ i });
    await d.stop();
    await first.close();
    const second = stores.open();
    const again = steeredSender();
    const d2 = await createDelivery({ repo: second.outbox, sender: again.sender });
    await until(() => again.sent.length === 3, 'redelivery');
    expect(again.sent).to.deep.equal([{ i: 0 }, { i: 1 }, { i: 2 }]);
    const row = await second.outbox.head('test');
    expect(row).to.equal(undefined);
    await d2.stop();
  });

  it('keeps each sink to its own rows', async () => {
    const store = stores.open();
    const a = steeredSender('a');
    const b = steeredSender('b');
    b.set('fail');
    const da = await createDelivery({ repo: store.outbox, sender: a.sender });
    const db = await createDelivery({ repo: store.outbox, sender: b.sender, minBackoffMs: 10_000 });
    await da.enqueue('x');
    await db.enqueue('y');
    await until(() => a.sent.length === 1, 'a');
    expect(await store.outbox.count('a')).to.equal(0);
    expect(await store.outbox.count('b')).to.equal(1);
    expect(await store.outbox.removeOtherSinks(['a'])).to.equal(1);
    await Promise.all([da.stop(), db.stop()]);
  });
});
