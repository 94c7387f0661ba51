import { z } from 'zod';
import { parseWith } from '../validation.js';

/** Where a topic prefix may not go: MQTT wildcards, control characters, empty levels at the ends. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what a topic prefix may not hold
const TOPIC_PREFIX = /^[^+#/\u0000-\u001f\u007f](?:[^+#\u0000-\u001f\u007f]*[^+#/\u0000-\u001f\u007f])?$/;
const MQTT_SCHEMES = ['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'tls:', 'ws:', 'wss:'];

function url(schemes: readonly string[], what: string) {
  return z
    .string()
    .max(2048)
    .refine((s) => {
      try {
        return schemes.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    }, `must be ${what}`);
}

export const mqttSchema = z
  .object({
    url: url(MQTT_SCHEMES, 'an mqtt://, mqtts://, ws:// or wss:// URL'),
    username: z.string().max(1024).optional(),
    password: z.string().max(1024).optional(),
    /** Default `vigil-` + 8 random hex per start. */
    clientId: z.string().min(1).max(128).optional(),
    topicPrefix: z.string().max(200).regex(TOPIC_PREFIX, 'must be topic levels without + # or control characters').default('vigil'),
    discoveryPrefix: z
      .string()
      .max(200)
      .regex(TOPIC_PREFIX, 'must be topic levels without + # or control characters')
      .default('homeassistant'),
    /** Publish Home Assistant discovery configs on connect. */
    discovery: z.boolean().default(true),
  })
  .strict();

export const webhookSchema = z
  .object({
    url: url(['http:', 'https:'], 'an http:// or https:// URL'),
    /** Signs each body: `X-Vigil-Signature: sha256=<hex HMAC-SHA256>`. */
    secret: z.string().min(1).max(1024).optional(),
    /** Only these cameras (default: all). */
    cameras: z.array(z.string().min(1).max(64)).min(1).max(1000).optional(),
    /** Only these labels (default: all). */
    labels: z.array(z.string().min(1).max(64)).min(1).max(1000).optional(),
  })
  .strict();

const sinksSchema = z
  .object({
    mqtt: mqttSchema.optional(),
    webhooks: z.array(webhookSchema).max(32).default([]),
  })
  .strict();

/** The operator's sink settings, as a config file or `startServer({ sinks })` gives them. */
export type SinksInput = z.input<typeof sinksSchema>;
export type SinksOptions = z.output<typeof sinksSchema>;
export type MqttOptions = z.output<typeof mqttSchema>;
export type WebhookOptions = z.output<typeof webhookSchema>;

/** The JSON schema of `sinks`, for a config file schema to embed (slice: config file). */
export const SINKS_SCHEMA = sinksSchema;

/**
 * Validates sink settings once, filling defaults.
 * @throws VIGIL_ERR_CONFIG naming the field: `sinks: webhooks.0.url: must be an http:// or https:// URL`
 */
export function parseSinksOptions(input: unknown): SinksOptions {
  return parseWith(sinksSchema, input ?? {}, 'sinks', 'VIGIL_ERR_CONFIG');
}

/** A sink's connection as `/api/status` shows it: `starting` until its first connect (MQTT). */
export type SinkState = 'starting' | 'up' | 'down';

/** The broker URL as it may be shown: without its password. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(bad URL)';
  }
}
