import { expect } from 'chai';
import { textRow, textTable } from '../src/text-table.js';

describe('text tables', () => {
  const rows = [
    ['class', 'recall', 'events'],
    ['falling', '0.909', '11'],
    ['no_fall', '1.000', '210'],
  ];

  it('left-aligns every column by default, two spaces apart, with no trailing spaces', () => {
    expect(textTable(rows)).to.deep.equal(['class    recall  events', 'falling  0.909   11', 'no_fall  1.000   210']);
  });

  it('aligns per column, the last entry standing for the columns after it', () => {
    expect(textTable(rows, { align: ['left', 'right'] })).to.deep.equal([
      'class    recall  events',
      'falling   0.909      11',
      'no_fall   1.000     210',
    ]);
    expect(textTable(rows, { align: 'right' })).to.deep.equal([
      '  class  recall  events',
      'falling   0.909      11',
      'no_fall   1.000     210',
    ]);
  });

  it('renders a row to known widths; a wider cell pushes the rest right', () => {
    expect(textRow(['ab', 'c'], [4, 3], { align: 'right' })).to.equal('  ab    c');
    expect(textRow(['abcdef', 'c'], [4, 3], { align: 'right' })).to.equal('abcdef    c');
  });
});
