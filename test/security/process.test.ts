import { expect } from 'chai';
import { selectBackend } from '../../src/model/runtime/backend.js';

describe('security: nothing turns a stray error into a crash', () => {
  it('the tensor backend leaves no process-wide error listener behind (the wasm glue installs ones that rethrow)', async () => {
    const count = () => [process.listeners('uncaughtException').length, process.listeners('unhandledRejection').length];
    const before = count();
    await selectBackend();
    expect(count()).to.deep.equal(before);
  });
});
