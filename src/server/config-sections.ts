import { z } from 'zod';
import { cameraSchema } from '../store/cameras.js';
import { CAMERA_ID_PATTERN } from '../store/ids.js';

/**
 * The sections the config file adds to the server's settings: declared cameras and their
 * alert rules, and the sinks (MQTT, webhooks). Validated here, with the rest of the settings
 * (config.ts); what uses them lives elsewhere (declared-cameras.ts; the sinks).
 *
 * Messages never quote a value: a URL may hold a password or a webhook's secret path.
 */

/** A topic level sequence: no wildcards, no empty levels, no leading or trailing `/`. */
// eslint-disable-next-line no-control-regex -- NUL is not allowed in an MQTT topic
const TOPIC = /^[^+#/\u0000]+(\/[^+#/\u0000]+)*$/;
const topic = (fallback: string) =>
  z.string().max(200).regex(TOPIC, 'an MQTT topic prefix: levels separated by /, no + or #, no empty level').default(fallback);

function urlWithScheme(schemes: readonly string[]) {
  const list = schemes.map((s) => `${s}://`).join(', ');
  return z
    .string()
    .max(2048)
    .refine((v) => {
      try {
        return schemes.includes(new URL(v).protocol.slice(0, -1));
      } catch {
        return false;
      }
    }, `must be a URL starting ${list}`);
}

/**
 * Which of a camera's model's classes make events, and the thresholds (see `AlertRule` in
 * src/events/types.ts; what is left out is the model's and the rule's default).
 */
export const alertsSchema = z
  .object({
    labels: z.array(z.string().min(1).max(100)).min(1, 'name at least one label, or leave labels out').max(64).optional(),
    minDurationMs: z.number().int().min(0).max(3_600_000).optional(),
    minConfidence: z.number().min(0).max(1).optional(),
  })
  .strict();

/** A camera declared in the config file: the API's camera fields (the id required) plus `alerts`. */
export const declaredCameraSchema = cameraSchema.extend({ alerts: alertsSchema.optional() });

export const declaredCamerasSchema = z
  .array(declaredCameraSchema)
  .max(256)
  .superRefine((cameras, ctx) => {
    const seen = new Set<string>();
    cameras.forEach((c, i) => {
      if (seen.has(c.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `${c.id} is declared twice` });
      seen.add(c.id);
    });
  });

/** The MQTT broker the events sink publishes to (delivery: the sinks). */
export const mqttSchema = z
  .object({
    url: urlWithScheme(['mqtt', 'mqtts', 'ws', 'wss']),
    username: z.string().min(1).max(256).optional(),
    password: z.string().min(1).max(1024).optional(),
    clientId: z.string().min(1).max(256).optional(),
    topicPrefix: topic('vigil'),
    discoveryPrefix: topic('homeassistant'),
    /** Home Assistant MQTT discovery configs under `discoveryPrefix`. */
    discovery: z.boolean().default(true),
  })
  .strict();

/** A URL each event is POSTed to, signed with `secret` when set, filtered by camera and label. */
export const webhookSchema = z
  .object({
    url: urlWithScheme(['http', 'https']),
    secret: z.string().min(1).max(1024).optional(),
    cameras: z.array(z.string().regex(CAMERA_ID_PATTERN, 'a camera id')).min(1).max(256).optional(),
    labels: z.array(z.string().min(1).max(100)).min(1).max(64).optional(),
  })
  .strict();

export type DeclaredCamera = z.infer<typeof declaredCameraSchema>;
export type AlertsConfig = z.infer<typeof alertsSchema>;
export type MqttConfig = z.infer<typeof mqttSchema>;
export type WebhookConfig = z.infer<typeof webhookSchema>;
