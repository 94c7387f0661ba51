import { z } from 'zod';
import { cameraSchema } from '../store/cameras.js';
import { mqttSchema, webhookSchema } from '../sinks/options.js';

/**
 * The sections the config file adds to the server's settings: declared cameras and their
 * alert rules, and the sinks (MQTT, webhooks). Validated here, with the rest of the settings
 * (config.ts); what uses them lives elsewhere (declared-cameras.ts; the sinks).
 *
 * Messages never quote a value: a URL may hold a password or a webhook's secret path.
 */

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

// The sinks own their settings' schemas (src/sinks/options.ts); the config file takes them as they are.
export { mqttSchema, webhookSchema };

export type DeclaredCamera = z.infer<typeof declaredCameraSchema>;
export type AlertsConfig = z.infer<typeof alertsSchema>;
export type MqttConfig = z.infer<typeof mqttSchema>;
export type WebhookConfig = z.infer<typeof webhookSchema>;
