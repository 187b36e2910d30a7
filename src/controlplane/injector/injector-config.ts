/** Validates the injector settings file the chart mounts (config.json), at the edge, once. */
import { z } from 'zod';
import { parseJsonObject } from '../../shared/json-object.ts';
import type { InjectorConfig } from './inject-sidecar.ts';

const InjectorConfigSchema = z.strictObject({
  image: z.string().min(1),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
  controllerUrl: z.string().regex(/^https?:\/\/[^\s]+$/),
  caBundle: z.string().default(''),
  resources: z.record(z.string(), z.unknown()).default({}),
  excludedNamespaces: z
    .array(z.string())
    .default(['kube-system', 'kube-public', 'kube-node-lease']),
  nodeOptions: z.string().default('--max-semi-space-size=8'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
});

export function parseInjectorConfig(text: string): InjectorConfig {
  const json = parseJsonObject(text);
  if (json === undefined) throw new Error('the injector settings are not a JSON object');
  const parsed = InjectorConfigSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  return parsed.data;
}
