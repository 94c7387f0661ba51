/** A learning curve as a small standalone SVG: accuracy (with its spread) and false-alarm rate against reviews. */
export interface CurvePoint {
  k: number;
  mean: number;
  std: number;
  falseAlarms: number;
}

export function learningCurveSvg(o: { title: string; points: readonly CurvePoint[] }): string {
  const W = 560;
  const H = 340;
  const L = 56;
  const R = 20;
  const T = 40;
  const B = 46;
  const maxK = Math.max(...o.points.map((p) => p.k), 1);
  const x = (k: number) => L + (k / maxK) * (W - L - R);
  const y = (v: number) => T + (1 - v) * (H - T - B);
  const line = (pick: (p: CurvePoint) => number) =>
    o.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.k).toFixed(1)},${y(pick(p)).toFixed(1)}`).join(' ');
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (v) =>
        `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${L - 8}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`,
    )
    .join('');
  const ticks = o.points.map((p) => `<text x="${x(p.k)}" y="${H - B + 18}" text-anchor="middle">${p.k}</text>`).join('');
  const bars = o.points
    .map((p) => {
      const lo = Math.max(0, p.mean - p.std);
      const hi = Math.min(1, p.mean + p.std);
      const bar = `<line x1="${x(p.k)}" x2="${x(p.k)}" y1="${y(lo)}" y2="${y(hi)}" stroke="#1f6feb"/>`;
      return `${bar}<circle cx="${x(p.k)}" cy="${y(p.mean)}" r="3.5" fill="#1f6feb"/>`;
    })
    .join('');
  const dots = o.points.map((p) => `<circle cx="${x(p.k)}" cy="${y(p.falseAlarms)}" r="3" fill="#d1242f"/>`).join('');
  const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="20" text-anchor="middle" font-size="13">${escape(o.title)}</text>
${grid}${ticks}
<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle">reviewed clips (k)</text>
<path d="${line((p) => p.mean)}" fill="none" stroke="#1f6feb" stroke-width="2"/>${bars}
<path d="${line((p) => p.falseAlarms)}" fill="none" stroke="#d1242f" stroke-width="1.5" stroke-dasharray="4 3"/>${dots}
<text x="${W - R}" y="${T - 6}" text-anchor="end"><tspan fill="#1f6feb">clip accuracy (± sd over sites)</tspan>
<tspan fill="#d1242f">false-alarm rate</tspan></text>
</svg>
`;
}
