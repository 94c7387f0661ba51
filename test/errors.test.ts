import { expect } from 'chai';
import { ERRORS, vigilError, VigilError, isVigilError } from '../src/errors.js';
import { readDoc } from './helpers/docs.js';

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

  it('instanceof holds for a copy of the class, and only for vigil errors', () => {
    const copy = Object.assign(new Error('x'), { [Symbol.for('vigil.error')]: true, code: 'VIGIL_ERR_DECODE' });
    expect(copy).to.be.instanceOf(VigilError);
    expect(new Error('x')).to.not.be.instanceOf(VigilError);
    expect(null).to.not.be.instanceOf(VigilError);
  });

  it('every code is VIGIL_ERR_* and has a message with a %s slot', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(code).to.match(/^VIGIL_ERR_[A-Z_]+$/);
      expect(spec.message).to.contain('%s');
    }
  });
});

describe('errors in docs/errors.md', () => {
  // One row a code: | `CODE` | message | when | HTTP | WS close |
  const rows = () =>
    [...readDoc('errors').matchAll(/^\| `(VIGIL_ERR_[A-Z_]+)` \| (.+?) \| .+ \| (\d+) \| (\d+) \|$/gm)].map(
      ([, code, message, http, ws]) => ({
        code,
        message,
        httpStatus: Number(http),
        wsClose: Number(ws),
      }),
    );

  it('lists exactly the codes of the registry', () => {
    const documented = rows().map((r) => r.code);
    expect(documented.sort()).to.deep.equal(Object.keys(ERRORS).sort());
  });

  it("gives each code the registry's message, HTTP status and WebSocket close code", () => {
    const documented = rows();
    expect(documented).to.have.length(Object.keys(ERRORS).length);
    for (const { code, ...row } of documented) {
      const spec = ERRORS[code as keyof typeof ERRORS];
      expect(row, code).to.deep.equal({ message: spec.message.replace('%s', '…'), httpStatus: spec.httpStatus, wsClose: spec.wsClose });
    }
  });
});
