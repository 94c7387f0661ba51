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

describe('errors in the README', () => {
  it('lists exactly the codes of the registry', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Errors'), readme.indexOf('\n## ', readme.indexOf('## Errors') + 1));
    const documented = [...section.matchAll(/^\| `(VIGIL_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).to.deep.equal(Object.keys(ERRORS).sort());
  });
});
