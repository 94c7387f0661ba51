import { expect } from 'chai';
import { ERRORS, vigilError, VigilError, isVigilError } from '../src/errors.js';

describe('errors', () => {
  it('builds a coded error with message, status and close code', () => {
    const e = vigilError('VIGIL_ERR_SOURCE_NOT_FOUND', '/nope.mp4');
    expect(e).to.be.instanceOf(VigilError);
    expect(e.code).to.equal('VIGIL_ERR_SOURCE_NOT_FOUND');
    expect(e.message).to.equal('no such file: /nope.mp4');
    expect(e.httpStatus).to.equal(404);
    expect(isVigilError(e, 'VIGIL_ERR_SOURCE_NOT_FOUND')).to.equal(true);
    expect(isVigilError(e, 'VIGIL_ERR_DECODE')).to.equal(false);
  });

  it('every code is VIGIL_ERR_* and has a message with a %s slot', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(code).to.match(/^VIGIL_ERR_[A-Z_]+$/);
      expect(spec.message).to.contain('%s');
    }
  });
});
