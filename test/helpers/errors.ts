import { expect } from 'chai';
import { VigilError, type ErrorCode } from '../../src/errors.js';

/** Awaits a promise that must reject with a VigilError, and returns that error. */
export async function rejection(p: Promise<unknown>): Promise<VigilError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, 'expected a rejection').to.be.instanceOf(VigilError);
  return e as VigilError;
}

/** Asserts the class, the code and the exact message, as ws' tests do. */
export function expectCoded(e: unknown, code: ErrorCode, message: string): void {
  expect(e).to.be.instanceOf(VigilError);
  expect(e).to.include({ code, message });
}

/** Calls a function that must throw, and returns what it threw. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}
