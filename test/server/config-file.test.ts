import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startServer } from '../../src/server/app.js';
import { resolveConfig, type ServerConfigInput } from '../../src/server/config.js';
import { reconcileDeclaredCameras } from '../../src/server/declared-cameras.js';
import { openStore } from '../../src/store/index.js';
import { CLI } from '../helpers/cli-server.js';
import { fixture } from '../helpers/clips.js';
import { readDoc } from '../helpers/docs.js';
import { expectCoded, rejection, thrown } from '../helpers/errors.js';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';

describe('server: the config file (vigil serve --config)', function () {
  this.timeout(90_000);
  let dir: string;
  /** Writes `name` in the test's folder and returns its path. */
  const file = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };
  const resolveFile = (path: string, env: NodeJS.ProcessEnv = {}, input: ServerConfigInput = {}) =>
    resolveConfig({ configFile: path, ...input }, env);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vigil-config-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('reading and checking', () => {
    it('reads YAML and JSON alike, fills defaults, and expands ${NAME} from the environment', async () => {
      const settings = {
        port: 9123,
        limits: { behindMs: 500 },
        mqtt: { url: 'mqtt://127.0.0.1:1883', username: 'vigil', password: '${VIGIL_MQTT_PASSWORD}' },
        webhooks: [{ url: 'https://hooks.example/v?k=1', secret: 'a$${literal}' }],
      };
      const yml = await file(
        'vigil.yml',
        [
          'port: 9123',
          'limits:',
          '  behindMs: 500',
          'mqtt:',
          '  url: mqtt://127.0.0.1:1883',
          '  username: vigil',
          '  password: ${VIGIL_MQTT_PASSWORD}',
          'webhooks:',
          '  - url: https://hooks.example/v?k=1',
          '    secret: a$${literal}',
        ].join('\n'),
      );
      const json = await file('vigil.json', JSON.stringify(settings));
      const env = { VIGIL_MQTT_PASSWORD: 'pw from env' };
      const a = resolveFile(yml, env);
      const b = resolveFile(json, env);
      expect({ ...a, configFile: null }).to.deep.equal({ ...b, configFile: null });
      expect(a.configFile).to.equal(yml);
      expect(a.port).to.equal(9123);
      expect(a.limits).to.include({ behindMs: 500, wsQueue: 512 });
      expect(a.mqtt).to.deep.equal({
        url: 'mqtt://127.0.0.1:1883',
        username: 'vigil',
        password: 'pw from env',
        topicPrefix: 'vigil',
        discoveryPrefix: 'homeassistant',
        discovery: true,
      });
      expect(a.webhooks).to.deep.equal([{ url: 'https://hooks.example/v?k=1', secret: 'a${literal}' }]);
      expect(a.cameras).to.deep.equal([]);
      // No file, no sinks.
      const none = resolveConfig({}, {});
      expect(none.configFile).to.equal(null);
      expect(none.mqtt).to.equal(undefined);
      expect(none.webhooks).to.deep.equal([]);
      // An empty file is all defaults.
      expect(resolveFile(await file('empty.yml', '')).port).to.equal(8080);
    });

    it('ranks flags over env over the file over defaults, merging limits key by key; VIGIL_CONFIG names the file', async () => {
      const path = await file('vigil.yml', 'motionGate: 0.1\nworkers: 3\ndataDir: data\nlimits: { behindMs: 500, wsQueue: 7 }\n');
      expect(resolveFile(path).motionGate).to.equal(0.1);
      expect(resolveFile(path, { VIGIL_MOTION_GATE: '0.2' }).motionGate).to.equal(0.2);
      const all = resolveFile(path, { VIGIL_MOTION_GATE: '0.2' }, { motionGate: 0.3, limits: { wsQueue: 9 } });
      expect(all.motionGate).to.equal(0.3);
      expect(all.workers).to.equal(3);
      expect(all.limits).to.include({ behindMs: 500, wsQueue: 9, jsonBytes: 64 * 1024 });
      // A path in the file reads from the file's folder; from env, from the working directory.
      expect(all.dataDir).to.equal(join(dir, 'data'));
      expect(resolveFile(path, { VIGIL_DATA_DIR: 'elsewhere' }).dataDir).to.equal(join(process.cwd(), 'elsewhere'));
      expect(resolveConfig({}, { VIGIL_CONFIG: path })).to.include({ motionGate: 0.1, configFile: path });
      expect(resolveConfig({ configFile: path }, { VIGIL_CONFIG: join(dir, 'other.yml') }).configFile).to.equal(path);
      expect(resolveConfig({}, {}).motionGate).to.equal(0.004);
    });

    it('refuses a wrong field with VIGIL_ERR_CONFIG naming the file and every wrong field', async () => {
      const path = await file('vigil.yml', 'limits:\n  behindMs: fast\nprot: 80\nwebhooks:\n  - url: https://ok.example\n    labels: []\n');
      expectCoded(
        thrown(() => resolveFile(path)),
        'VIGIL_ERR_CONFIG',
        `bad configuration: ${path}: limits.behindMs: Expected number, received string; ` +
          "webhooks[0].labels: Array must contain at least 1 element(s); (root): Unrecognized key(s) in object: 'prot'",
      );
      const list = await file('list.yml', '- port: 1\n');
      expectCoded(
        thrown(() => resolveFile(list)),
        'VIGIL_ERR_CONFIG',
        `bad configuration: ${list}: (root): Expected object, received array`,
      );
      const topic = await file('topic.yml', 'mqtt: { url: "mqtts://b.example", topicPrefix: "vigil/#" }\n');
      expectCoded(
        thrown(() => resolveFile(topic)),
        'VIGIL_ERR_CONFIG',
        `bad configuration: ${topic}: mqtt.topicPrefix: must be topic levels without + # or control characters`,
      );
    });

    it('names the line of a syntax error, never the text on it (it may hold a password)', async () => {
      const yml = await file('vigil.yml', 'port: 8080\nmqtt:\n  password: hunter2: oops\n');
      const e = thrown(() => resolveFile(yml));
      expectCoded(
        e,
        'VIGIL_ERR_CONFIG',
        `bad configuration: ${yml}: line 3, column 13: not valid YAML (Nested mappings are not allowed in compact mappings)`,
      );
      const dup = await file('dup.yaml', 'port: 1\nport: 2\n');
      expectCoded(
        thrown(() => resolveFile(dup)),
        'VIGIL_ERR_CONFIG',
        `bad configuration: ${dup}: line 2, column 1: not valid YAML (Map keys must be unique)`,
      );
      const json = await file('vigil.json', '{\n  "port": 1,\n  "token": "hunter2hunter2hunter2",\n}\n');
      const je = thrown(() => resolveFile(json));
      expectCoded(
        je,
        'VIGIL_ERR_CONFIG',
        `bad configuration: ${json}: line 4, column 1: not valid JSON (Expected double-quoted property name in JSON)`,
      );
    });

    it('refuses a missing file, a folder, another extension and an unset variable, each with a coded error', async () => {
      const missing = join(dir, 'nope.yml');
      expectCoded(
        thrown(() => resolveFile(missing)),
        'VIGIL_ERR_CONFIG',
        `bad configuration: ${missing}: no such file`,
      );
      expectCoded(
        thrown(() => resolveConfig({}, { VIGIL_CONFIG: missing })),
        'VIGIL_ERR_CONFIG',
        `bad configuration: ${missing}: no such file`,
      );
      const folder = join(dir, 'folder.yml');
      await mkdir(folder);
      expectCoded(
        thrown(() => resolveFile(folder)),
        'VIGIL_ERR_CONFIG',
        `bad configuration: ${folder}: a folder, not a file`,
      );
      const toml = await file('vigil.toml', 'port = 1\n');
      expectCoded(
        thrown(() => resolveFile(toml)),
        'VIGIL_ERR_CONFIG',
        `bad configuration: ${toml}: a config file is .yml, .yaml or .json (YAML or JSON)`,
      );
      const unset = await file('vigil.yml', 'mqtt:\n  url: mqtt://127.0.0.1\n  password: ${VIGIL_MQTT_PASSWORD}\n');
      expectCoded(
        thrown(() => resolveFile(unset)),
        'VIGIL_ERR_CONFIG',
        `bad configuration: ${unset}: mqtt.password: environment variable VIGIL_MQTT_PASSWORD is not set`,
      );
    });

    it('refuses a webhook URL that is not http(s), and a broker URL that is not MQTT, without quoting them', async () => {
      for (const url of ['ftp://user:s3cret@hooks.example/', 'file:///etc/passwd', 'javascript:alert(1)', 'hooks.example/s3cret', '']) {
        const path = await file('vigil.json', JSON.stringify({ webhooks: [{ url: 'https://ok.example/' }, { url }] }));
        expectCoded(
          thrown(() => resolveFile(path)),
          'VIGIL_ERR_CONFIG',
          `bad configuration: ${path}: webhooks[1].url: must be an http:// or https:// URL`,
        );
      }
      const ok = await file('ok.json', JSON.stringify({ webhooks: [{ url: 'http://127.0.0.1:9/hook' }, { url: 'https://h.example/x' }] }));
      expect(resolveFile(ok).webhooks.map((w) => w.url)).to.deep.equal(['http://127.0.0.1:9/hook', 'https://h.example/x']);
      const broker = await file('broker.json', JSON.stringify({ mqtt: { url: 'http://s3cret@broker.example' } }));
      expectCoded(
        thrown(() => resolveFile(broker)),
        'VIGIL_ERR_CONFIG',
        `bad configuration: ${broker}: mqtt.url: must be an mqtt://, mqtts://, ws:// or wss:// URL`,
      );
    });

    it('checks declared cameras as the API does, naming the entry by place and id', async () => {
      const clip = fixture('demo.mp4');
      const cases: [object, string][] = [
        [{ id: 'door', source: clip, model: 'fight', fps: 100 }, 'cameras[0] (door): fps: Number must be less than or equal to 60'],
        [{ source: clip, model: 'fight' }, 'cameras[0]: id: Required'],
        [
          { id: 'door', source: clip, model: 'fight', colour: 'red' },
          "cameras[0] (door): (entry): Unrecognized key(s) in object: 'colour'",
        ],
        [{ id: 'door', source: clip, model: 'dance' }, 'cameras[0] (door): no such model: "dance"; shipped: fall, fight'],
        [{ id: 'door', source: join(dir, 'gone.mp4'), model: 'fight' }, `cameras[0] (door): no such file: ${join(dir, 'gone.mp4')}`],
        [
          { id: 'door', source: 'rtsp://192.0.2.1/s', model: 'fight', loop: true },
          'cameras[0] (door): loop replays a file; rtsp://192.0.2.1/s is a URL (send loop: false or leave it out)',
        ],
        [
          { id: 'door', source: clip, model: 'fight', alerts: { labels: ['falling'] } },
          'cameras[0] (door): alerts.labels: falling is not a class of model fight (classes: fight, no_fight)',
        ],
        [{ id: 'door', source: clip, models: [] }, 'cameras[0] (door): models: name at least one model'],
        [{ id: 'door', source: clip, models: ['fight', 'fight'] }, 'cameras[0] (door): models: fight is listed twice'],
        [{ id: 'door', source: clip, models: ['fight', 'dance'] }, 'cameras[0] (door): no such model: "dance"; shipped: fall, fight'],
        [
          { id: 'door', source: clip, models: ['fight', 'fall'], alerts: { labels: ['walking'] } },
          'cameras[0] (door): alerts.labels: walking is not a class of models fight, fall (classes: fight, no_fight, falling, no_fall)',
        ],
        [
          { id: 'door', source: clip, model: 'fight', alerts: { minConfidence: 2 } },
          'cameras[0] (door): alerts.minConfidence: Number must be less than or equal to 1',
        ],
      ];
      for (const [camera, message] of cases) {
        const path = await file('vigil.yml', JSON.stringify({ cameras: [camera] }));
        expectCoded(
          thrown(() => resolveFile(path)),
          'VIGIL_ERR_CONFIG',
          `bad configuration: ${path}: ${message}`,
        );
      }
      const twice = await file('twice.yml', JSON.stringify({ cameras: [1, 2].map(() => ({ id: 'door', source: clip, model: 'fight' })) }));
      expectCoded(
        thrown(() => resolveFile(twice)),
        'VIGIL_ERR_CONFIG',
        `bad configuration: ${twice}: cameras[1] (door): id: door is declared twice`,
      );
      // The sources policy applies to declared cameras too.
      const policy = await file('policy.yml', `sources: [${dir}]\ncameras:\n  - { id: door, source: ${clip}, model: fight }\n`);
      expect((thrown(() => resolveFile(policy)) as Error).message).to.match(
        new RegExp(`^bad configuration: ${policy}: cameras\\[0\\] \\(door\\): source not allowed: `),
      );
      // A relative file reads from the file's folder; the entry as checked: every field, alerts kept.
      await copyFile(clip, join(dir, 'lobby.mp4'));
      const good = await file(
        'good.yml',
        'cameras:\n  - id: lobby\n    source: lobby.mp4\n    model: fight\n    alerts: { minDurationMs: 1500 }\n',
      );
      expect(resolveFile(good).cameras).to.deep.equal([
        {
          id: 'lobby',
          source: join(dir, 'lobby.mp4'),
          model: 'fight',
          fps: null,
          loop: false,
          record: { mode: 'off' },
          alerts: { minDurationMs: 1500 },
        },
      ]);
    });

    it('declares a camera with several models; the stored camera follows a change of the list, and only then', async () => {
      const clip = fixture('demo.mp4');
      const one = await file('one.yml', `cameras:\n  - { id: room, source: ${clip}, model: fight }\n`);
      const two = await file(
        'two.yml',
        `cameras:\n  - { id: room, source: ${clip}, models: [fight, fall], alerts: { labels: [falling] } }\n`,
      );
      expect(resolveFile(two).cameras[0]).to.deep.include({ models: ['fight', 'fall'], alerts: { labels: ['falling'] } });
      let clock = Date.UTC(2025, 0, 1);
      const store = openStore(join(dir, 'data'), { now: () => clock });
      try {
        await reconcileDeclaredCameras(store, resolveFile(one).cameras);
        expect(await store.cameras.get('room')).to.deep.include({ model: 'fight', models: ['fight'] });
        clock += 1000;
        await reconcileDeclaredCameras(store, resolveFile(two).cameras);
        const changed = await store.cameras.get('room');
        expect(changed).to.deep.include({ model: 'fight', models: ['fight', 'fall'], updatedAt: new Date(clock).toISOString() });
        clock += 1000;
        await reconcileDeclaredCameras(store, resolveFile(two).cameras);
        expect((await store.cameras.get('room'))?.updatedAt, 'unchanged: not written again').to.equal(changed?.updatedAt);
      } finally {
        await store.close();
      }
    });

    it('parses the example vigil.yml of docs/configuration.md', async () => {
      const page = readDoc('configuration');
      const section = page.slice(page.indexOf('## The config file'));
      const example = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
      expect(example, 'a yaml block in "The config file"').to.be.a('string');
      const path = await file('vigil.yml', example!);
      const env = { VIGIL_CAM_PASSWORD: 'cam', VIGIL_MQTT_PASSWORD: 'mq', VIGIL_WEBHOOK_SECRET: 'wh' };
      const config = resolveFile(path, env);
      expect(config.cameras.map((c) => [c.id, c.model])).to.deep.equal([
        ['back-door', 'fight'],
        ['hallway', 'fall'],
      ]);
      expect(config.cameras[0].source).to.equal('rtsp://viewer:cam@192.168.1.20:554/stream1');
      expect(config.cameras[0].alerts).to.deep.equal({ minDurationMs: 1500, minConfidence: 0.8 });
      expect(config.mqtt).to.include({ password: 'mq', topicPrefix: 'vigil', discovery: true });
      expect(config.webhooks).to.deep.equal([
        { url: 'https://hooks.example.com/vigil', secret: 'wh', cameras: ['back-door'], labels: ['fight'] },
      ]);
      expect(config).to.include({ port: 8080, dataDir: '/var/lib/vigil', demo: false });
    });
  });

  describe('a real server', () => {
    let t: TestServer | undefined;
    afterEach(async () => {
      await t?.stop();
      t = undefined;
    });

    it('applies the file: limits take effect; declared cameras appear and label; they are set back each start, API cameras are kept', async () => {
      await copyFile(fixture('demo.mp4'), join(dir, 'lobby.mp4'));
      const declare = (extra: string) =>
        file(
          'vigil.yml',
          `limits: { jsonBytes: 300 }\ncameras:\n  - id: lobby\n    name: Lobby\n    source: lobby.mp4\n    model: fight\n    loop: true\n${extra}`,
        );
      const path = await declare('');
      t = await startTestServer({ configFile: path, dataDir: join(dir, 'data') });
      expect(t.server.config.configFile).to.equal(path);
      const c = await connect(`${t.url}/ws`);
      c.send({ type: 'subscribe', cameras: ['lobby'] });
      await c.next('label', (m) => m.cameraId === 'lobby', 30_000);
      c.close();
      const big = await t.api('/api/cameras', {
        method: 'POST',
        body: { id: 'x', source: 'webcam', model: 'fight', name: 'n'.repeat(400) },
      });
      expect(big.status).to.equal(413);
      expect(big.body.error.code).to.equal('VIGIL_ERR_TOO_LARGE');

      // An edit over the API, and a camera of the API's own.
      expect((await t.api('/api/cameras/lobby', { method: 'PATCH', body: { name: 'Renamed', fps: 4 } })).status).to.equal(200);
      expect((await t.api('/api/cameras', { method: 'POST', body: { id: 'extra', source: 'webcam', model: 'fall' } })).status).to.equal(
        201,
      );
      await t.restart();
      const after = (await t.api('/api/cameras')).body.cameras as { id: string; name: string; fps: number | null; record: unknown }[];
      expect(after.map((x) => [x.id, x.name, x.fps])).to.deep.equal([
        ['lobby', 'Lobby', null],
        ['extra', 'extra', null],
      ]);

      // A changed file changes the camera; a camera dropped from the file stays.
      await declare('    record: { mode: continuous }\n');
      await t.restart();
      expect((await t.api('/api/cameras/lobby')).body.record).to.deep.equal({ mode: 'continuous', segmentS: 60 });
      await file('vigil.yml', 'limits: { jsonBytes: 300 }\n');
      await t.restart();
      expect(((await t.api('/api/cameras')).body.cameras as { id: string }[]).map((x) => x.id)).to.deep.equal(['lobby', 'extra']);
    });

    it('does not start on a bad file, and leaves the data folder free', async () => {
      const dataDir = join(dir, 'data');
      const bad = await file('bad.yml', 'cameras:\n  - { id: door, source: webcam, model: fight, fps: 0 }\n');
      const e = await rejection(startServer({ configFile: bad, port: 0, dataDir, demo: false }));
      expectCoded(e, 'VIGIL_ERR_CONFIG', `bad configuration: ${bad}: cameras[0] (door): fps: Number must be greater than 0`);
      const good = await file('good.yml', 'cameras:\n  - { id: door, source: webcam, model: fight }\n');
      const server = await startServer({ configFile: good, port: 0, dataDir, demo: false });
      try {
        expect((await server.cameras.list()).map((x) => x.id)).to.deep.equal(['door']);
      } finally {
        await server.close();
      }
    });
  });

  describe('vigil serve', () => {
    /** `vigil serve` with these arguments, until it serves (then SIGTERM) or exits. */
    async function serve(args: string[], env: NodeJS.ProcessEnv = {}) {
      const child = spawn(process.execPath, [CLI, 'serve', ...args], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
      const url = await new Promise<string | undefined>((done) => {
        child.stdout.on('data', () => {
          const m = /serving (http:\/\/\S+?)\/ /.exec(out);
          if (m) done(m[1]);
        });
        void exited.then(() => done(undefined));
      });
      const cameras = url ? ((await (await fetch(`${url}/api/cameras`)).json()) as { cameras: { id: string }[] }).cameras : undefined;
      child.kill('SIGTERM');
      return { url, cameras, code: await exited, out, err: () => err };
    }

    it('exits 1 with the coded message on a wrong field or a missing file, serving nothing', async () => {
      const bad = await file('vigil.yml', 'port: 0\nlimits:\n  behindMs: fast\n');
      const r = await serve(['--config', bad, '--data', join(dir, 'data')]);
      expect(r.code).to.equal(1);
      expect(r.url).to.equal(undefined);
      expect(r.err()).to.equal(`vigil: VIGIL_ERR_CONFIG: bad configuration: ${bad}: limits.behindMs: Expected number, received string\n`);
      const missing = join(dir, 'nope.yml');
      const m = await serve(['--data', join(dir, 'data')], { VIGIL_CONFIG: missing });
      expect(m.code).to.equal(1);
      expect(m.err()).to.equal(`vigil: VIGIL_ERR_CONFIG: bad configuration: ${missing}: no such file\n`);
    });

    it('takes the file from VIGIL_CONFIG, lets flags win over it, and keeps its demo: false without --no-demo', async () => {
      const path = await file('vigil.yml', `port: 9\ndataDir: from-file\ndemo: false\n`);
      const r = await serve(['--port', '0', '--data', join(dir, 'flag-data')], { VIGIL_CONFIG: path, VIGIL_LOG_LEVEL: 'silent' });
      expect(r.code).to.equal(0);
      expect(r.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(r.url).to.not.match(/:9$/);
      expect(r.out).to.include(`(data in ${join(dir, 'flag-data')})`);
      expect(r.cameras, 'no demo camera').to.deep.equal([]);
    });
  });
});
