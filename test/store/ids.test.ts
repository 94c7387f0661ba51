import { expect } from 'chai';
import { CLIP_ID_PATTERN, createClipIdGenerator } from '../../src/store/ids.js';

describe('store clip ids', () => {
  it('sort in creation order within one ms, across ms, and when the clock steps back', () => {
    let t = Date.UTC(2025, 0, 31, 12);
    const next = createClipIdGenerator(() => t);
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push(next());
    t += 1;
    ids.push(next());
    t -= 5000; // NTP correction
    ids.push(next(), next());
    t += 10_000;
    ids.push(next());
    expect(ids.every((id) => CLIP_ID_PATTERN.test(id))).to.equal(true);
    expect(new Set(ids).size).to.equal(ids.length);
    expect([...ids].sort()).to.deep.equal(ids);
    // The time is readable from the id: 9 base36 digits of ms.
    expect(parseInt(ids[0].slice(4, 13), 36)).to.equal(Date.UTC(2025, 0, 31, 12));
    expect(parseInt(ids.at(-1)!.slice(4, 13), 36)).to.equal(t);
  });
});
