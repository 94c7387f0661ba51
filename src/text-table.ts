export type Align = 'left' | 'right';

export interface TextTableOptions {
  /**
   * [align='left'] per column, or one for all; columns past the list take its last entry, so
   * `['left', 'right']` is a label column and figures.
   */
  align?: Align | readonly Align[];
}

/**
 * Rows as aligned text, for people to read: each column as wide as its widest cell, columns
 * two spaces apart, no trailing spaces. The first row is usually the header.
 * @example
 * textTable([['class', 'recall'], ['fall', '0.909']], { align: ['left', 'right'] });
 * // ['class  recall', 'fall    0.909']
 */
export function textTable(rows: readonly (readonly string[])[], options: TextTableOptions = {}): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => textRow(r, widths, options));
}

/**
 * One row of a table whose widths are known up front, for tables printed as their rows come
 * (a header's cell lengths, say); a cell wider than its column pushes the rest right.
 */
export function textRow(cells: readonly string[], widths: readonly number[], options: TextTableOptions = {}): string {
  const align = (c: number): Align => {
    const a = options.align ?? 'left';
    return typeof a === 'string' ? a : a[Math.min(c, a.length - 1)];
  };
  return cells
    .map((cell, c) => (align(c) === 'left' ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
    .join('  ')
    .trimEnd();
}
