import { expect } from 'chai';
import { place, targets, type Worker } from '../../src/fleet/placement.js';

const cams = (n: number) => Array.from({ length: n }, (_, i) => `cam${String(i + 1).padStart(2, '0')}`);
const w = (id: string, capacity = 100): Worker => ({ id, capacity });

/** holder id → how many it holds. */
function counts(holders: Map<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of holders.values()) out[h] = (out[h] ?? 0) + 1;
  return out;
}

/**
 * Rounds of the fleet: every node decides from the same snapshot, then releases apply and
 * acquires are tried in node order (a camera goes to the first to try, as SET NX would).
 * Returns the moves per round; stops when a round moves nothing.
 */
function simulate(workers: Worker[], cameras: string[], holders: Map<string, string>, maxRounds = 50) {
  const rounds: { released: number; acquired: number; perNodeReleases: number }[] = [];
  for (let r = 0; r < maxRounds; r++) {
    const snapshot = new Map(holders);
    const plans = workers.map((n) => ({ id: n.id, plan: place({ self: n.id, workers, cameras, holders: snapshot }) }));
    let released = 0;
    let acquired = 0;
    let perNodeReleases = 0;
    for (const { id, plan } of plans) {
      perNodeReleases = Math.max(perNodeReleases, plan.release.length);
      for (const c of plan.release) {
        expect(holders.get(c)).to.equal(id);
        holders.delete(c);
        released++;
      }
    }
    for (const { id, plan } of plans) {
      for (const c of plan.acquire) {
        expect(snapshot.has(c), 'acquires only unheld cameras').to.equal(false);
        if (!holders.has(c)) {
          holders.set(c, id);
          acquired++;
        }
      }
    }
    if (released === 0 && acquired === 0) return rounds;
    rounds.push({ released, acquired, perNodeReleases });
  }
  expect.fail(`no convergence in ${maxRounds} rounds: ${JSON.stringify(counts(holders))}`);
}

describe('fleet: placement targets', () => {
  it('spread evenly, never above ceil(cameras / workers)', () => {
    expect(Object.fromEntries(targets([w('a'), w('b'), w('c')], 6, new Map()))).to.deep.equal({ a: 2, b: 2, c: 2 });
    expect(Object.fromEntries(targets([w('a'), w('b'), w('c'), w('d')], 6, new Map()))).to.deep.equal({ a: 2, b: 2, c: 1, d: 1 });
    expect(Object.fromEntries(targets([w('a'), w('b')], 0, new Map()))).to.deep.equal({ a: 0, b: 0 });
    expect(Object.fromEntries(targets([], 5, new Map()))).to.deep.equal({});
  });

  it('gives the remainder to the workers holding the most now (stability), then by id', () => {
    const held = new Map([
      ['c', 2],
      ['d', 2],
      ['a', 1],
    ]);
    expect(Object.fromEntries(targets([w('a'), w('b'), w('c'), w('d')], 6, held))).to.deep.equal({ a: 1, b: 1, c: 2, d: 2 });
  });

  it('respects capacities and moves what a small worker cannot hold to the others', () => {
    expect(Object.fromEntries(targets([w('a', 1), w('b', 10), w('c', 10)], 6, new Map()))).to.deep.equal({ a: 1, b: 3, c: 2 });
    expect(Object.fromEntries(targets([w('a', 0), w('b', 2)], 6, new Map()))).to.deep.equal({ a: 0, b: 2 });
    expect(Object.fromEntries(targets([w('a', 1), w('b', 1)], 1, new Map()))).to.deep.equal({ a: 1, b: 0 });
  });

  it('exhaustively: sums to min(cameras, capacity), within capacity, at most the ceil share when no capacity binds, 1 apart', () => {
    for (let n = 1; n <= 5; n++) {
      for (let cameras = 0; cameras <= 13; cameras++) {
        for (let seed = 0; seed < 8; seed++) {
          const workers = Array.from({ length: n }, (_, i) => w(`w${i}`, (seed * 7 + i * 3) % 6));
          const t = targets(workers, cameras, new Map());
          const capacity = workers.reduce((s, x) => s + x.capacity, 0);
          const sum = [...t.values()].reduce((s, x) => s + x, 0);
          expect(sum, `${n} workers, ${cameras} cameras, seed ${seed}`).to.equal(Math.min(cameras, capacity));
          const ceil = Math.ceil(cameras / n);
          for (const x of workers) expect(t.get(x.id)).to.be.at.most(x.capacity);
          if (workers.every((x) => x.capacity >= ceil)) for (const x of workers) expect(t.get(x.id)).to.be.at.most(ceil);
          const uncapped = workers.filter((x) => x.capacity > (t.get(x.id) ?? 0)).map((x) => t.get(x.id) ?? 0);
          if (uncapped.length > 0) expect(Math.max(...[...t.values()]) - Math.min(...uncapped)).to.be.at.most(1);
        }
      }
    }
  });
});

describe('fleet: placement moves', () => {
  it('6 cameras over 3 empty workers converge to 2/2/2 in one round, without two nodes picking the same camera', () => {
    const holders = new Map<string, string>();
    const workers = [w('a'), w('b'), w('c')];
    const plans = workers.map((x) => place({ self: x.id, workers, cameras: cams(6), holders }));
    expect(plans.map((p) => p.acquire)).to.deep.equal([
      ['cam01', 'cam02'],
      ['cam03', 'cam04'],
      ['cam05', 'cam06'],
    ]);
    expect(simulate(workers, cams(6), holders)).to.have.length(1);
    expect(counts(holders)).to.deep.equal({ a: 2, b: 2, c: 2 });
  });

  it('a lone first node takes everything, then hands over one camera a tick as the others appear', () => {
    const holders = new Map<string, string>();
    simulate([w('a')], cams(6), holders);
    expect(counts(holders)).to.deep.equal({ a: 6 });
    const rounds = simulate([w('a'), w('b'), w('c')], cams(6), holders);
    expect(counts(holders)).to.deep.equal({ a: 2, b: 2, c: 2 });
    for (const r of rounds) expect(r.perNodeReleases).to.be.at.most(1);
    // Four releases, one a round; each released camera is taken in the round after.
    expect(rounds).to.have.length(5);
  });

  it('a 4th joining 2/2/2 takes one from one node: just one camera moves', () => {
    const holders = new Map<string, string>();
    simulate([w('a'), w('b'), w('c')], cams(6), holders);
    const workers = [w('a'), w('b'), w('c'), w('d')];
    const plans = workers.map((x) => place({ self: x.id, workers, cameras: cams(6), holders }));
    expect(plans.map((p) => p.release.length)).to.deep.equal([0, 0, 1, 0]);
    const rounds = simulate(workers, cams(6), holders);
    expect(rounds.reduce((s, r) => s + r.released, 0)).to.equal(1);
    expect(counts(holders)).to.deep.equal({ a: 2, b: 2, c: 1, d: 1 });
    // Converged: nobody moves any more.
    for (const x of workers) expect(place({ self: x.id, workers, cameras: cams(6), holders })).to.include({ target: x.id < 'c' ? 2 : 1 });
    expect(simulate(workers, cams(6), holders)).to.have.length(0);
  });

  it('a node joining 10 cameras on 2 nodes ends with its share, no round releasing more than one per node', () => {
    const holders = new Map<string, string>();
    simulate([w('a'), w('b')], cams(10), holders);
    const rounds = simulate([w('a'), w('b'), w('c')], cams(10), holders);
    expect(Object.values(counts(holders)).sort()).to.deep.equal([3, 3, 4]);
    expect(counts(holders).c).to.equal(3);
    for (const r of rounds) expect(r.perNodeReleases).to.be.at.most(1);
  });

  it('a dead node: its cameras, once their leases expire, go to the survivors', () => {
    const holders = new Map<string, string>();
    simulate([w('a'), w('b'), w('c')], cams(6), holders);
    for (const [c, h] of [...holders]) if (h === 'b') holders.delete(c);
    simulate([w('a'), w('c')], cams(6), holders);
    expect(counts(holders)).to.deep.equal({ a: 3, c: 3 });
  });

  it('leaves alone cameras held by nodes that are not live workers (their leases have not expired)', () => {
    const holders = new Map([
      ['cam01', 'ghost'],
      ['cam02', 'ghost'],
    ]);
    const p = place({ self: 'a', workers: [w('a')], cameras: cams(3), holders });
    expect(p).to.deep.equal({ acquire: ['cam03'], release: [], target: 3 });
  });

  it('capacity: never takes more than it may hold; what nobody can hold stays unheld', () => {
    const holders = new Map<string, string>();
    simulate([w('a', 1), w('b', 2)], cams(6), holders);
    expect(counts(holders)).to.deep.equal({ a: 1, b: 2 });
  });

  it('releases cameras removed from the list at once, and everything when it is not a worker', () => {
    const holders = new Map([
      ['cam01', 'a'],
      ['old1', 'a'],
      ['old2', 'a'],
    ]);
    expect(place({ self: 'a', workers: [w('a')], cameras: cams(2), holders })).to.deep.equal({
      acquire: ['cam02'],
      release: ['old1', 'old2'],
      target: 2,
    });
    expect(place({ self: 'a', workers: [w('b')], cameras: cams(2), holders }).release).to.deep.equal(['old1', 'old2', 'cam01']);
  });

  it('is deterministic: input order does not matter', () => {
    const holders = new Map([
      ['cam03', 'b'],
      ['cam01', 'a'],
    ]);
    const one = place({ self: 'c', workers: [w('a'), w('b'), w('c')], cameras: cams(6), holders });
    const two = place({
      self: 'c',
      workers: [w('c'), w('b'), w('a')],
      cameras: cams(6).reverse(),
      holders: new Map([...holders].reverse()),
    });
    expect(two).to.deep.equal(one);
  });

  it('exhaustively: from any start, rounds converge to the targets, each node releasing at most one a round', () => {
    for (let n = 1; n <= 4; n++) {
      for (let cameras = 0; cameras <= 9; cameras++) {
        for (let seed = 0; seed < 6; seed++) {
          const workers = Array.from({ length: n }, (_, i) => w(`w${i}`, seed === 5 ? 1 + i : 100));
          const holders = new Map<string, string>();
          cams(cameras).forEach((c, i) => {
            const owner = (i * (seed + 1) + seed) % (n + 1);
            if (owner < n) holders.set(c, `w${owner}`);
          });
          const rounds = simulate(workers, cams(cameras), holders);
          for (const r of rounds) expect(r.perNodeReleases).to.be.at.most(1);
          const t = targets(workers, cameras, new Map(Object.entries(counts(holders))));
          for (const x of workers) expect(counts(holders)[x.id] ?? 0, `${n}/${cameras}/${seed} ${x.id}`).to.equal(t.get(x.id));
        }
      }
    }
  });
});
