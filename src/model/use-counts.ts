/**
 * Who still uses each loaded model (streams opening or open, clip jobs), so that the last one
 * to leave can unload a model nobody needs (an adapted version a camera switched away from).
 */
export interface UseCounts {
  use(name: string): void;
  /** One user fewer; true when that was the last one. */
  release(name: string): boolean;
  has(name: string): boolean;
}

export function createUseCounts(): UseCounts {
  const users = new Map<string, number>();
  return {
    use: (name) => void users.set(name, (users.get(name) ?? 0) + 1),
    release(name) {
      const n = (users.get(name) ?? 1) - 1;
      if (n > 0) {
        users.set(name, n);
        return false;
      }
      users.delete(name);
      return true;
    },
    has: (name) => users.has(name),
  };
}
