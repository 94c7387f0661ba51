import { expect } from 'chai';
import { median, percentile, round, roundDeep } from '../src/numbers.js';

describe('numbers', () => {
  it('rounds to the given decimals as Math.round does, and never to -0', () => {
    expect(round(0.87125, 4)).to.equal(0.8713);
    expect(round(1234.5678, 3)).to.equal(1234.568);
    expect(round(2.5, 0)).to.equal(3);
    expect(Object.is(round(-0.00001, 3), 0)).to.equal(true);
    expect(round(-1.23456, 2)).to.equal(-1.23);
  });

  it('rounds every number of a JSON value to 3 decimals, and leaves the rest', () => {
    expect(roundDeep({ a: 0.12345, b: [1.00049, null, 'x'], c: { d: 2 } })).to.deep.equal({ a: 0.123, b: [1, null, 'x'], c: { d: 2 } });
  });

  it('takes the median of odd and even counts without reordering its input, 0 for none', () => {
    const xs = [5, 1, 3];
    expect(median(xs)).to.equal(3);
    expect(xs).to.deep.equal([5, 1, 3]);
    expect(median([100, 150, 50, 100, 100, 40])).to.equal(100);
    expect(median([4, 1, 3, 2])).to.equal(2.5);
    expect(median([])).to.equal(0);
  });

  it('takes percentiles by rank without interpolation, NaN for none', () => {
    const xs = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    expect(percentile(xs, 50)).to.equal(60);
    expect(percentile(xs, 95)).to.equal(100);
    expect(percentile(xs, 100)).to.equal(100);
    expect(percentile(xs, 0)).to.equal(10);
    expect(percentile([], 50)).to.be.NaN;
  });
});
