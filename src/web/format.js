/** `83_450` → `1:23.4`; null → `–`. */
export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  const s = ms / 1000;
  const m = Math.floor(s / 60);
  const rest = (s - m * 60).toFixed(1).padStart(4, '0');
  return `${m}:${rest}`;
}

/** `1536` → `1.5 KiB`. */
export function bytes(n) {
  if (!Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** ISO date or epoch ms → local date and time. */
export function when(t) {
  if (t === null || t === undefined) return '–';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

/** A probability with two decimals: `0.8712` → `0.87`. */
export function prob(p) {
  return Number.isFinite(p) ? p.toFixed(2) : '–';
}
