import { expect } from 'chai';
import { join, resolve, sep } from 'node:path';
import { expectCoded, rejection, thrown } from '../helpers/errors.js';
import { resolveInside } from '../../src/store/index.js';
import { tempStores } from './temp-dir.js';

describe('store paths', () => {
  const root = resolve('/srv/vigil-data');

  it('resolveInside keeps plain names inside the directory', () => {
    expect(resolveInside(root, 'clips', 'clp_x.mp4')).to.equal(join(root, 'clips', 'clp_x.mp4'));
    // Percent-escapes are not decoded here: `%2e%2e` is an ordinary (odd) file name.
    expect(resolveInside(root, '%2e%2e')).to.equal(`${root}${sep}%2e%2e`);
    expect(resolveInside(root, 'a/../b')).to.equal(join(root, 'b'));
  });

  it('resolveInside rejects traversal, absolute paths, NUL bytes and the directory itself', () => {
    expectCoded(
      thrown(() => resolveInside(root, '../x')),
      'VIGIL_ERR_INVALID_ARGUMENT',
      `invalid argument: path "../x" leads outside ${root}`,
    );
    expectCoded(
      thrown(() => resolveInside(root, 'clips/../../x')),
      'VIGIL_ERR_INVALID_ARGUMENT',
      `invalid argument: path "clips/../../x" leads outside ${root}`,
    );
    expectCoded(
      thrown(() => resolveInside(root, 'clips', '..', '..')),
      'VIGIL_ERR_INVALID_ARGUMENT',
      `invalid argument: path "clips/../.." leads outside ${root}`,
    );
    expectCoded(
      thrown(() => resolveInside(root, '.')),
      'VIGIL_ERR_INVALID_ARGUMENT',
      `invalid argument: path "." leads outside ${root}`,
    );
    expectCoded(
      thrown(() => resolveInside(root, '/etc/passwd')),
      'VIGIL_ERR_INVALID_ARGUMENT',
      `invalid argument: path "/etc/passwd" is not a relative path inside ${root}`,
    );
    expectCoded(
      thrown(() => resolveInside(root, 'a\0b')),
      'VIGIL_ERR_INVALID_ARGUMENT',
      `invalid argument: path "a\\u0000b" is not a relative path inside ${root}`,
    );
    expectCoded(
      thrown(() => resolveInside(root, '')),
      'VIGIL_ERR_INVALID_ARGUMENT',
      `invalid argument: path "" is not a relative path inside ${root}`,
    );
    // A sibling whose name starts with the root's name is outside too.
    expectCoded(
      thrown(() => resolveInside(root, '../vigil-data-evil/x')),
      'VIGIL_ERR_INVALID_ARGUMENT',
      `invalid argument: path "../vigil-data-evil/x" leads outside ${root}`,
    );
  });

  describe('ids from requests', () => {
    const stores = tempStores();
    const attempts = ['../x', '../../etc/passwd', '/etc/passwd', '%2e%2e', '%2e%2e%2fvigil.db', 'a\0', '..', 'clp_../../x', 'CAM', ''];

    it('clip ids other than generated ones are refused before any path is built', async () => {
      const store = stores.open();
      for (const id of attempts) {
        expectCoded(
          await rejection(store.clips.videoPath(id)),
          'VIGIL_ERR_INVALID_ARGUMENT',
          `invalid argument: clip id must look like clp_0m5x8k2a1f3c9e0b7d4a6, got ${JSON.stringify(id)}`,
        );
        expectCoded(
          await rejection(store.clips.get(id)),
          'VIGIL_ERR_INVALID_ARGUMENT',
          `invalid argument: clip id must look like clp_0m5x8k2a1f3c9e0b7d4a6, got ${JSON.stringify(id)}`,
        );
        expectCoded(
          await rejection(store.clips.remove(id)),
          'VIGIL_ERR_INVALID_ARGUMENT',
          `invalid argument: clip id must look like clp_0m5x8k2a1f3c9e0b7d4a6, got ${JSON.stringify(id)}`,
        );
      }
    });

    it('camera ids must be lowercase names', async () => {
      const store = stores.open();
      for (const id of attempts) {
        expectCoded(
          await rejection(store.cameras.get(id)),
          'VIGIL_ERR_INVALID_ARGUMENT',
          `invalid argument: camera id must be 1-64 lowercase letters, digits, - or _ (starting with a letter or digit), got ${JSON.stringify(id)}`,
        );
      }
      expect(await store.cameras.get('hall-1')).to.equal(undefined);
    });

    it('staging paths and extensions cannot leave staging', async () => {
      const store = stores.open();
      expectCoded(
        thrown(() => store.stagingPath('../mp4')),
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: file extension must be 1-8 lowercase letters or digits without the dot, got "../mp4"',
      );
      expectCoded(
        thrown(() => store.stagingPath('mp4/x')),
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: file extension must be 1-8 lowercase letters or digits without the dot, got "mp4/x"',
      );
      const outside = join(stores.dir(), 'vigil.db');
      expectCoded(
        thrown(() => store.discard(outside)),
        'VIGIL_ERR_INVALID_ARGUMENT',
        `invalid argument: path "../vigil.db" leads outside ${join(store.dataDir, 'staging')}`,
      );
      const err = await store.clips
        .adopt(join(stores.dir(), 'staging', '..', 'vigil.db'), { kind: 'upload', name: 'x' })
        .catch((e: unknown) => e);
      expectCoded(
        err,
        'VIGIL_ERR_INVALID_ARGUMENT',
        `invalid argument: path "../vigil.db" leads outside ${join(store.dataDir, 'staging')}`,
      );
      expect(store.stagingPath('.mp4')).to.match(/[/\\]staging[/\\][0-9a-f]{16}\.mp4$/);
      expect(store.stagingPath('')).to.match(/[/\\]staging[/\\][0-9a-f]{16}$/);
    });
  });
});
