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

/**
 * Running as one node of a fleet (docs/fleet.md): cameras are placed on worker nodes through
 * leases in Redis, and their live messages fan out through Redis to the API nodes.
 */
export const fleetSchema = z
  .object({
    /** `redis://` or `rediss://`; every node of one fleet names the same Redis. */
    redis: z
      .string({ required_error: "name the fleet's Redis: --redis, VIGIL_REDIS_URL or fleet.redis in the config file" })
      .min(1)
      .max(2048),
    /** Unique in the fleet, and the same across restarts of one node. [default: host name and port] */
    nodeId: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, 'letters, digits, . _ : - (at most 100), starting with a letter or digit')
      .optional(),
    /** `worker` runs cameras, `api` shows the fleet's cameras and their labels, `all` both. */
    role: z.enum(['all', 'worker', 'api']).default('all'),
    /** Lease and heartbeat lifetime: a dead worker's cameras start elsewhere after about this. */
    leaseMs: z.number().int().min(500).max(60_000).default(5000),
    /** The most cameras this node runs. [default: no bound but its share] */
    capacity: z.number().int().positive().max(100_000).optional(),
    /** Where the other nodes reach this one's API (previews of its cameras). [default: the bound address and port] */
    url: z
      .string()
      .regex(/^https?:\/\/[^\s/?#]+\/?$/, 'http(s)://host:port, nothing after it')
      .optional(),
    /** Key and channel prefix, for two fleets on one Redis. */
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,40}$/)
      .default('vigil'),
  })
  .strict();

// The sinks own their settings' schemas (src/sinks/options.ts); the config file takes them as they are.
export { mqttSchema, webhookSchema };

export type DeclaredCamera = z.infer<typeof declaredCameraSchema>;
export type AlertsConfig = z.infer<typeof alertsSchema>;
export type MqttConfig = z.infer<typeof mqttSchema>;
export type WebhookConfig = z.infer<typeof webhookSchema>;
export type FleetConfig = z.infer<typeof fleetSchema>;
