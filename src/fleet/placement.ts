/**
 * Which cameras one node should take or give up, from a snapshot of the fleet. Pure and
 * deterministic, so every node computing it from the same snapshot agrees on who moves, and it
 * can be tested without Redis.
 *
 * Targets: the cameras (at most the sum of capacities) are spread as evenly as capacities
 * allow: every worker gets the same level L, or its capacity if lower, and the few left over
 * go one each to the workers above L that hold the most now (then by id), so a converged fleet
 * recomputes exactly the targets it has and nothing flaps. No target exceeds
 * ceil(cameras / workers).
 *
 * Moves: a node over its target releases at most `maxReleasePerTick` a tick, so a joining
 * node takes over gradually instead of everyone dropping cameras at once; a node under its
 * target takes only unheld cameras, and the unheld ones are dealt out among the nodes under
 * target in id order, so two of them rarely race for the same one (a lost race costs a tick).
 * Cameras held by nodes not in `workers` (dead ones whose leases have not expired yet, nodes of
 * another protocol) are left alone: they are neither free nor anyone's to take.
 */

export interface Worker {
  id: string;
  /** The most cameras it will hold (0 holds none). */
  capacity: number;
}

/**
 * @property self the node deciding
 * @property workers the live workers, self included (without it, self takes nothing and gives up what it holds)
 * @property cameras every camera the fleet should run
 * @property holders camera id → its lease holder now; unheld cameras are absent
 * @property [maxReleasePerTick=1] how many cameras an over-target node gives up per tick
 */
export interface PlacementInput {
  self: string;
  workers: readonly Worker[];
  cameras: readonly string[];
  holders: ReadonlyMap<string, string>;
  maxReleasePerTick?: number;
}

export interface Placement {
  /** Unheld cameras to try to lease, in order. */
  acquire: string[];
  /** Held cameras to stop and release, in order. */
  release: string[];
  /** The number of cameras this node should end up with. */
  target: number;
}

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** worker id → how many cameras it should hold; sums to min(cameras, total capacity). */
export function targets(workers: readonly Worker[], cameraCount: number, heldNow: ReadonlyMap<string, number>): Map<string, number> {
  const caps = workers.map((w) => ({ id: w.id, cap: Math.max(0, Math.floor(w.capacity)) }));
  const total = Math.min(
    cameraCount,
    caps.reduce((s, w) => s + w.cap, 0),
  );
  const filled = (level: number) => caps.reduce((s, w) => s + Math.min(w.cap, level), 0);
  // The highest level that does not place more than there is; total ≤ sum of caps, so it is bounded.
  let level = 0;
  while (filled(level + 1) <= total && level < total) level++;
  const out = new Map(caps.map((w) => [w.id, Math.min(w.cap, level)]));
  let left = total - filled(level);
  const extra = caps.filter((w) => w.cap > level).sort((a, b) => (heldNow.get(b.id) ?? 0) - (heldNow.get(a.id) ?? 0) || byId(a.id, b.id));
  for (const w of extra) {
    if (left === 0) break;
    out.set(w.id, level + 1);
    left--;
  }
  return out;
}

export function place(input: PlacementInput): Placement {
  const maxRelease = Math.max(1, input.maxReleasePerTick ?? 1);
  const cameras = [...new Set(input.cameras)].sort(byId);
  const known = new Set(cameras);
  const workers = [...new Map(input.workers.map((w) => [w.id, w])).values()].sort((a, b) => byId(a.id, b.id));
  const workerIds = new Set(workers.map((w) => w.id));
  const mine = [...input.holders]
    .filter(([c, h]) => h === input.self && known.has(c))
    .map(([c]) => c)
    .sort(byId);
  // Cameras gone from the list are released at once: they are not a share to hand over.
  const gone = [...input.holders]
    .filter(([c, h]) => h === input.self && !known.has(c))
    .map(([c]) => c)
    .sort(byId);

  if (!workerIds.has(input.self)) return { acquire: [], release: [...gone, ...mine], target: 0 };

  const heldNow = new Map<string, number>();
  for (const [c, h] of input.holders) if (known.has(c)) heldNow.set(h, (heldNow.get(h) ?? 0) + 1);
  const goal = targets(workers, cameras.length, heldNow);
  const target = goal.get(input.self) ?? 0;

  if (mine.length > target) {
    // The last ones by id, so the choice is stable from tick to tick.
    return { acquire: [], release: [...gone, ...mine.slice(target).reverse().slice(0, maxRelease)], target };
  }
  const unheld = cameras.filter((c) => !input.holders.has(c));
  let from = 0;
  for (const w of workers) {
    const want = Math.max(0, (goal.get(w.id) ?? 0) - (heldNow.get(w.id) ?? 0));
    if (w.id === input.self) {
      let acquire = unheld.slice(from, from + want);
      // Views differ between nodes: if the ones dealt to others are all there is, take any free one.
      if (acquire.length < want) acquire = [...acquire, ...unheld.filter((c) => !acquire.includes(c))].slice(0, want);
      return { acquire, release: gone, target };
    }
    from += want;
  }
  return { acquire: [], release: gone, target };
}
