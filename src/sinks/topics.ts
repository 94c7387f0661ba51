import type { EventChange, VigilEvent } from '../events/types.js';

/** What the MQTT sink announces per camera: Home Assistant shows one device with a sensor per label. */
export interface CameraInfo {
  id: string;
  name: string;
  /** The models the camera runs (the device's `model` in Home Assistant). */
  models: readonly string[];
  /** Its alert labels: one binary sensor each. */
  labels: readonly string[];
}

/**
 * One topic level from a name that came from outside (a camera id, a label): MQTT wildcards
 * (`+`, `#`), the level separator and control characters would make it a filter, split it,
 * or be refused by the broker, so each becomes `_`.
 */
export function topicLevel(name: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  const clean = name.replace(/[+#/\u0000-\u001f\u007f]/g, '_').slice(0, 128);
  return clean === '' ? '_' : clean;
}

/** Home Assistant's node and object ids allow `[a-zA-Z0-9_-]` only. */
function discoveryId(...parts: string[]): string {
  return parts.map((p) => p.replace(/[^a-zA-Z0-9_-]/g, '_')).join('_');
}

/** The wire type on `vigil/events`: a review is an update of the event it reviews. */
export function wireType(change: EventChange): 'new' | 'update' | 'end' {
  return change.type === 'start' ? 'new' : change.type === 'end' ? 'end' : 'update';
}

/** The topics of one prefix (`vigil`): the names docs/sinks.md lists. */
export function topicsOf(prefix: string, discoveryPrefix: string) {
  return {
    available: `${prefix}/available`,
    events: `${prefix}/events`,
    state: (cameraId: string, label: string) => `${prefix}/${topicLevel(cameraId)}/${topicLevel(label)}`,
    snapshot: (cameraId: string, label: string) => `${prefix}/${topicLevel(cameraId)}/${topicLevel(label)}/snapshot`,
    status: (cameraId: string) => `${prefix}/${topicLevel(cameraId)}/status`,
    discovery: (cameraId: string, label: string) => `${discoveryPrefix}/binary_sensor/${discoveryId('vigil', cameraId, label)}/config`,
  };
}

export type Topics = ReturnType<typeof topicsOf>;

/** `ON` while an event of this camera and label is active. */
export function statePayload(event: VigilEvent): 'ON' | 'OFF' {
  return event.state === 'active' ? 'ON' : 'OFF';
}

/**
 * The Home Assistant MQTT discovery config of one camera × label: a `binary_sensor` with
 * device class `safety` (on means unsafe), available while vigil is.
 */
export function discoveryConfig(topics: Topics, camera: CameraInfo, label: string): Record<string, unknown> {
  const id = discoveryId('vigil', camera.id, label);
  return {
    name: label.replace(/_/g, ' '),
    unique_id: id,
    object_id: id,
    state_topic: topics.state(camera.id, label),
    payload_on: 'ON',
    payload_off: 'OFF',
    availability_topic: topics.available,
    payload_available: 'online',
    payload_not_available: 'offline',
    device_class: 'safety',
    device: {
      identifiers: [discoveryId('vigil', camera.id)],
      name: camera.name,
      manufacturer: 'vigil',
      model: camera.models.join(', '),
    },
  };
}
