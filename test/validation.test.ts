import { expect } from 'chai';
import { z } from 'zod';
import { describeIssues, parseWith } from '../src/validation.js';
import { expectCoded, thrown } from './helpers/errors.js';

describe('validation', () => {
  const schema = z.object({ fps: z.number().positive(), size: z.object({ w: z.number().int() }) }).strict();

  it('returns the parsed value, defaults applied', () => {
    const withDefault = z.object({ loop: z.boolean().default(false) });
    expect(parseWith(withDefault, {}, 'camera')).to.deep.equal({ loop: false });
  });

  it('throws VIGIL_ERR_INVALID_ARGUMENT naming the value and every issue by path', () => {
    expectCoded(
      thrown(() => parseWith(schema, { fps: 0, size: { w: 1.5 } }, 'camera')),
      'VIGIL_ERR_INVALID_ARGUMENT',
      'invalid argument: camera: fps: Number must be greater than 0; size.w: Expected integer, received float',
    );
  });

  it('keeps the code its caller gives, and names the root for a value that is not an object', () => {
    expectCoded(
      thrown(() => parseWith(schema, 'x', 'models/a/manifest.json', 'VIGIL_ERR_MODEL_INVALID')),
      'VIGIL_ERR_MODEL_INVALID',
      'bad model folder: models/a/manifest.json: (root): Expected object, received string',
    );
  });

  it('describes issues on one line', () => {
    const r = schema.safeParse({ fps: 1, size: { w: 1 }, extra: true });
    expect(r.success).to.equal(false);
    expect(describeIssues((r as z.SafeParseError<unknown>).error)).to.equal("(root): Unrecognized key(s) in object: 'extra'");
  });
});
