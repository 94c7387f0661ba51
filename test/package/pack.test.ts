import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TimelineJson } from '../../src/timeline/format.js';
import { fixture } from '../helpers/clips.js';
import { connect } from '../helpers/server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** As test/golden.test.ts: backends differ in the last bits, nothing more. */
const TOLERANCE = 2e-3;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a user's shell: without the `npm_*` variables of an enclosing `npm test`
 * (`npm_config_local_prefix` would point a nested npm at this repository), but with the cache
 * and user config a CI may have set.
 */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_userconfig', 'npm_config_registry']);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) || keep.has(k.toLowerCase())));
  return { ...env, ...extra };
}

function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = userEnv()): Promise<Run> {
  return new Promise((done) => {
    execFile(file, args, { cwd, env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const seconds = (since: number) => ((Date.now() - since) / 1000).toFixed(1);

/**
 * Offline, prebuild-install cannot fetch better-sqlite3's binary from GitHub and node-gyp
 * compiles SQLite instead (2-3 minutes on two busy cores). A user online gets the prebuilt
 * binary; this hands the install the one this checkout's own install built, as a local
 * prebuild (same version, same Node ABI), through `.prebuild-installrc` in the project.
 * Without it (another version resolved, musl), the install still works, slowly.
 */
function offerSqlitePrebuild(project: string, work: string): Promise<Run> | undefined {
  const pkgPath = createRequire(import.meta.url).resolve('better-sqlite3/package.json');
  const binary = join(dirname(pkgPath), 'build', 'Release', 'better_sqlite3.node');
  if (!existsSync(binary)) return undefined;
  const { version } = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string };
  const dir = join(work, 'prebuilds');
  mkdirSync(dir);
  writeFileSync(join(project, '.prebuild-installrc'), `local-prebuilds=${dir}\n`);
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  return run('tar', ['czf', join(dir, name), '-C', dirname(pkgPath), 'build/Release/better_sqlite3.node'], work);
}

describe('the npm package, installed into an empty project (npm pack, npm install, vigil)', function () {
  this.timeout(120_000);
  let work: string;
  let project: string;
  let installed: string;
  let files: string[];
  let serve: ChildProcess | undefined;

  before(async function () {
    this.timeout(600_000);
    work = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-pack-')));
    // The real thing: prepack (clears dist/src) and prepare (builds it) run as on a publish.
    let t = Date.now();
    const pack = await run('npm', ['pack', '--json', '--pack-destination', work], ROOT);
    expect(pack.code, pack.stderr).to.equal(0);
    const [info] = JSON.parse(pack.stdout) as Array<{ filename: string; size: number; files: Array<{ path: string }> }>;
    files = info.files.map((f) => f.path);
    console.log(`      npm pack: ${seconds(t)} s, ${files.length} files, ${(info.size / 1024).toFixed(0)} KiB`);

    project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-vigil', private: true }));
    const tar = await offerSqlitePrebuild(project, work);
    if (tar) expect(tar.code, tar.stderr).to.equal(0);
    t = Date.now();
    // What the README tells a user to run; tfjs-node and ffmpeg-static fail to download
    // offline and, being optional, must not fail the install.
    const install = await run(
      'npm',
      ['install', join(work, info.filename), '--prefer-offline', '--no-audit', '--no-fund'],
      project,
      userEnv({ ONNXRUNTIME_NODE_INSTALL: 'skip' }),
    );
    expect(install.code, install.stderr).to.equal(0);
    console.log(`      npm install: ${seconds(t)} s`);
    installed = join(project, 'node_modules', 'vigil');
  });

  after(() => {
    serve?.kill('SIGKILL');
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('carries the built src, the models, the web UI and the demo clip; no tests, benches, scripts or maps', () => {
    for (const f of [
      'bin/vigil.js',
      'dist/src/cli/main.js',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'models/fight/manifest.json',
      'models/fight/weights.bin',
      'models/fall/weights.bin',
      'fixtures/demo.mp4',
      'fixtures/README.md',
      'README.md',
      'docs/service.md',
      'docs/errors.md',
    ]) {
      expect(files, f).to.include(f);
    }
    const web = readdirSync(join(ROOT, 'src', 'web')).map((f) => `src/web/${f}`);
    expect(files.filter((f) => f.startsWith('src/')).sort()).to.deep.equal(web.sort());
    const stray = files.filter(
      (f) =>
        /^(test|bench|scripts|research|\.cache|dist\/(?!src\/))/.test(f) ||
        f.endsWith('.map') ||
        (f.startsWith('fixtures/') && !['fixtures/demo.mp4', 'fixtures/README.md'].includes(f)),
    );
    expect(stray).to.deep.equal([]);
    // Every compiled file has its source: nothing left over from a file moved or deleted.
    const orphans = files
      .filter((f) => f.startsWith('dist/src/'))
      .filter((f) => !existsSync(join(ROOT, f.replace(/^dist\//, '').replace(/\.(js|d\.ts)$/, '.ts'))));
    expect(orphans).to.deep.equal([]);
  });

  it('vigil doctor: onnxruntime-node runs from its bundled CPU binaries (its postinstall skipped)', async () => {
    const r = await run(join(project, 'node_modules', '.bin', 'vigil'), ['doctor'], project);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^engine +ort \(onnxruntime-node /m);
    expect(r.stdout).to.contain(`fall, fight in ${join(installed, 'models')}`);
  });

  it('vigil label gives the golden timeline of a fixture clip', async () => {
    copyFileSync(fixture('fight-fi002.mp4'), join(project, 'fight-fi002.mp4'));
    const r = await run(join(project, 'node_modules', '.bin', 'vigil'), ['label', 'fight-fi002.mp4', '-f', 'json'], project);
    expect(r.code, r.stderr).to.equal(0);
    const got = JSON.parse(r.stdout) as TimelineJson;
    const golden = JSON.parse(readFileSync(join(ROOT, 'test', 'golden', 'fight-fi002.mp4.json'), 'utf8')) as TimelineJson;
    expect(got.model).to.deep.equal(golden.model);
    expect(got.frames.map((f) => [f.tMs, f.label])).to.deep.equal(golden.frames.map((f) => [f.tMs, f.label]));
    got.frames.forEach((f, i) =>
      f.probs.forEach((p, c) => expect(p, `frame ${i} class ${c}`).to.be.closeTo(golden.frames[i].probs[c], TOLERANCE)),
    );
    expect(got.segments.map((s) => [s.label, s.startMs, s.endMs])).to.deep.equal(golden.segments.map((s) => [s.label, s.startMs, s.endMs]));
  });

  it('vigil serve serves the web UI and labels the demo camera, both from the package', async () => {
    const child = spawn(join(project, 'node_modules', '.bin', 'vigil'), ['serve', '--port', '0', '--data', join(work, 'data')], {
      cwd: project,
      env: userEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    serve = child;
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const url = await new Promise<string>((done, fail) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        const m = /serving (http:\/\/\S+?)\/ /.exec(out);
        if (m) done(m[1]);
      });
      void exited.then((code) => fail(new Error(`vigil serve exited (${code}) before serving; stderr:\n${err}`)));
    });

    const page = await fetch(`${url}/`);
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-type')).to.match(/^text\/html/);
    expect(await page.text()).to.equal(readFileSync(join(ROOT, 'src', 'web', 'index.html'), 'utf8'));
    const script = await fetch(`${url}/app.js`);
    expect(script.status).to.equal(200);
    expect(script.headers.get('content-type')).to.match(/^(text|application)\/javascript/);

    const cameras = (await (await fetch(`${url}/api/cameras`)).json()) as { cameras: Array<{ id: string; source: string; model: string }> };
    expect(cameras.cameras.map((c) => [c.id, c.source, c.model])).to.deep.equal([
      ['demo', join(installed, 'fixtures', 'demo.mp4'), 'fight'],
    ]);
    const c = await connect(`${url}/ws`);
    try {
      c.send({ type: 'subscribe', cameras: ['demo'] });
      const label = await c.next('label', (m) => m.cameraId === 'demo', 60_000);
      expect(Object.keys(label.probs)).to.deep.equal(['fight', 'no_fight']);
      expect(label.probs.fight + label.probs.no_fight).to.be.closeTo(1, 1e-3);
    } finally {
      c.close();
    }

    child.kill('SIGTERM');
    expect(await exited, err).to.equal(0);
    serve = undefined;
  });
});
