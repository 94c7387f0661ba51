import { isDeepStrictEqual } from 'node:util';
import { isVigilError, vigilError } from '../errors.js';
import { log } from '../log.js';
import { modelList } from '../store/cameras.js';
import type { CameraInput, Store } from '../store/index.js';
import { checkCameraInput } from './camera-input.js';
import type { DeclaredCamera } from './config-sections.js';
import { modelClasses } from './model-names.js';
import type { SourcePolicy } from './source-policy.js';

/**
 * Cameras declared in the config file, checked as the API checks a new camera (model,
 * source and the source policy, loop, recorded labels) plus their `alerts` labels, so a bad
 * entry stops the start instead of leaving a camera in `error`.
 * @param where prefix of messages (the config file's path), or undefined when from code
 * @returns the entries with file sources made absolute
 * @throws VIGIL_ERR_CONFIG naming the entry (`vigil.yml: cameras[1] (door): ...`)
 */
export function checkDeclaredCameras(cameras: DeclaredCamera[], sources: SourcePolicy, where?: string): DeclaredCamera[] {
  return cameras.map((camera, i) => {
    try {
      const { alerts, ...input } = camera;
      const checked = checkCameraInput(input, sources);
      // Alerts may name the classes of any of the camera's models; each model tracks its own.
      const { models } = modelList(checked.model, checked.models);
      const classes = models.flatMap((m) => modelClasses(m));
      const unknown = alerts?.labels?.find((l) => !classes.includes(l));
      if (unknown !== undefined) {
        const of = models.length === 1 ? `model ${models[0]}` : `models ${models.join(', ')}`;
        throw vigilError(
          'VIGIL_ERR_INVALID_ARGUMENT',
          `alerts.labels: ${unknown} is not a class of ${of} (classes: ${classes.join(', ')})`,
        );
      }
      return alerts ? { ...checked, alerts } : checked;
    } catch (e) {
      if (!isVigilError(e)) throw e;
      // "invalid argument: camera:" says nothing here; "no such file:" and the like do.
      const detail = e.code === 'VIGIL_ERR_INVALID_ARGUMENT' ? e.message.replace(/^invalid argument: (camera: )?/, '') : e.message;
      throw vigilError('VIGIL_ERR_CONFIG', `${where ? `${where}: ` : ''}${entryName(i, camera.id)}: ${detail}`, e);
    }
  });
}

/** `cameras[1] (door)`: how messages name an entry of the list. */
export function entryName(index: number, id: unknown): string {
  return `cameras[${index}]${typeof id === 'string' && id !== '' ? ` (${id})` : ''}`;
}

/**
 * Makes the stored cameras agree with the declared ones, before the cameras start: a declared
 * camera missing from the store is created, one that differs (an edit over the API, or a changed
 * file) is set back to the file's content. Cameras the file does not name are left alone.
 */
export async function reconcileDeclaredCameras(store: Store, cameras: DeclaredCamera[]): Promise<void> {
  for (const { alerts: _, ...declared } of cameras) {
    const wanted = fields(declared);
    const stored = await store.cameras.get(declared.id);
    if (!stored) {
      await store.cameras.create(wanted);
      log.info(`camera ${declared.id}: created from the config file`);
    } else if (!isDeepStrictEqual(fields(stored), wanted)) {
      await store.cameras.update(declared.id, wanted);
      log.info(`camera ${declared.id}: set to the config file's settings`);
    }
  }
}

/** Every stored field, with the store's defaults: a field the file leaves out is reset, not kept. */
function fields(c: CameraInput & { id: string }): Required<CameraInput> {
  return {
    id: c.id,
    name: c.name ?? c.id,
    source: c.source,
    ...modelList(c.model, c.models),
    fps: c.fps ?? null,
    loop: c.loop ?? false,
    record: c.record ?? { mode: 'off' },
  };
}
