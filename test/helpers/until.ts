const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * Polls `check` every 100 ms until it gives a value (not undefined), and resolves with it.
 * @throws after `timeoutMs`, naming `what`
 */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
