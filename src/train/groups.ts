import { readFileSync } from 'node:fs';

/**
 * Which clips share a source video, from the fight dataset's `videos.txt`: a line starting
 * with `http` opens a group and the `clip: start - end` lines after it belong to it;
 * `a - b : name` lines make the numbered range a..b one group. A clip listed in two groups
 * joins them (union-find), so no source can sit on both sides of a split.
 *
 * @returns clip id (file name without extension, e.g. `fi001`) → group id.
 */
export function parseVideosTxt(text: string): Map<string, string> {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let root = x;
    while (parent.get(root) !== root) root = parent.get(root)!;
    parent.set(x, root);
    return root;
  };
  const join = (a: string, b: string) => {
    for (const x of [a, b]) if (!parent.has(x)) parent.set(x, x);
    parent.set(find(a), find(b));
  };

  let group: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('http')) {
      group = `src:${line}`;
      parent.set(group, parent.get(group) ?? group);
      continue;
    }
    const range = /^([a-z]+)(\d+)\s*-\s*([a-z]+)(\d+)\s*:\s*(.+)$/i.exec(line);
    if (range) {
      const [, prefix, from, , to, name] = range;
      const id = `range:${name}`;
      for (let n = Number(from); n <= Number(to); n++) join(`${prefix}${String(n).padStart(from.length, '0')}`, id);
      group = undefined;
      continue;
    }
    const clip = /^([a-z]+\d+)\s*:/i.exec(line);
    if (clip && group !== undefined) join(clip[1], group);
  }
  const out = new Map<string, string>();
  for (const key of parent.keys()) if (!key.includes(':')) out.set(key, find(key));
  return out;
}

export function readGroupsFile(path: string): Map<string, string> {
  return parseVideosTxt(readFileSync(path, 'utf8'));
}
