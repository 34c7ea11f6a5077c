// Load, validate and compare daemon configs. A bad config is a ConfigError
// whose message names each field, its value and the reason (exit 78).

import { readFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { configSchema, type DaemonConfig, type DeviceConfig } from './config-schema.js';
import type { PcmOptions } from '../types.js';

export * from './config-schema.js';

/** sysexits.h EX_CONFIG: the daemon refuses to start on a bad config. */
export const EX_CONFIG = 78;

const MISSING = '(missing)';

export interface ConfigProblem {
  /** `devices[1].periodFrames` */
  path: string;
  /** The offending value as JSON, or `(missing)`. */
  value: string;
  reason: string;
}

export class ConfigError extends Error {
  readonly code = 'EX_CONFIG';
  readonly exitCode = EX_CONFIG;
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[],
  ) {
    super(
      `invalid config ${source}:\n` +
        problems
          .map((p) => `  ${p.path || '(top level)'}: ${p.reason}${p.value === MISSING ? '' : ` (got ${p.value})`}`)
          .join('\n'),
    );
    this.name = 'ConfigError';
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || !(key in (cur as object))) return { found: false, value: undefined };
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return { found: true, value: cur };
}

function show(v: { found: boolean; value: unknown }): string {
  if (!v.found) return MISSING;
  let s: string;
  try {
    s = JSON.stringify(v.value) ?? String(v.value);
  } catch {
    s = '(a value that contains itself)';  // a YAML alias inside its own anchor: `a: &a [*a]`
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** One problem per zod issue; an unknown key gets its own path. */
export function problemsOf(input: unknown, issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const p = [...issue.path, key];
        out.push({ path: formatPath(p), value: show(valueAt(input, p)), reason: 'unknown key' });
      }
      continue;
    }
    const at = valueAt(input, issue.path);
    const reason = !at.found && issue.code === 'invalid_type' ? 'is required' : issue.message;
    out.push({ path: formatPath(issue.path), value: show(at), reason });
  }
  return out;
}

/** Validate an already-parsed object. Throws ConfigError. */
export function validateConfig(input: unknown, source = '(inline)'): DaemonConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(source, [{ path: '', value: show({ found: true, value: input }), reason: 'must be a mapping with a devices list' }]);
  }
  const r = configSchema.safeParse(input);
  if (!r.success) throw new ConfigError(source, problemsOf(input, r.error.issues));
  return r.data;
}

/** Parse YAML or JSON text (JSON is YAML; `.json` files are parsed strictly as JSON). */
export function parseConfigText(text: string, source: string): DaemonConfig {
  let raw: unknown;
  try {
    raw = source.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new ConfigError(source, [{ path: '', value: '(unparsable)', reason: `not valid ${source.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}` }]);
  }
  return validateConfig(raw, source);
}

export async function loadConfig(file: string): Promise<DaemonConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', value: file, reason: `cannot read: ${(err as Error).message}` }]);
  }
  return parseConfigText(text, file);
}

/** True when the machine has at least one ALSA PCM device node. */
export function hasSoundCard(devDir = '/dev/snd'): boolean {
  try {
    return readdirSync(devDir).some((f) => f.startsWith('pcm'));
  } catch {
    return false;
  }
}

/** The device the daemon runs when it has no config file and no sound card. */
export function builtinMockConfig(): DaemonConfig {
  return validateConfig(
    { devices: [{ name: 'mock', pcm: 'mock:builtin', direction: 'capture', audio: 'discard' }] },
    '(built-in mock)',
  );
}

/** The openPcm options for one configured device. */
export function pcmOptionsOf(d: DeviceConfig): PcmOptions {
  const o: PcmOptions = {
    device: d.pcm,
    direction: d.direction,
    rate: d.rate,
    channels: d.channels,
    format: d.format,
    periodFrames: d.periodFrames ?? Math.round(d.rate / 50),
    bufferPeriods: d.bufferPeriods,
    sampleIntervalMs: d.sampleIntervalMs,
  };
  if (d.rtPriority !== undefined) o.rtPriority = d.rtPriority;
  if (d.mock) o.mock = { faults: d.mock.faults };
  return o;
}

export interface DeviceDiff {
  added: DeviceConfig[];
  removed: DeviceConfig[];
  /** Same name, different settings: closed and opened again. */
  changed: { before: DeviceConfig; after: DeviceConfig }[];
  unchanged: DeviceConfig[];
}

/** Compare two device lists by name; any setting that differs makes a device "changed". */
export function diffDevices(before: readonly DeviceConfig[], after: readonly DeviceConfig[]): DeviceDiff {
  const old = new Map(before.map((d) => [d.name, d]));
  const diff: DeviceDiff = { added: [], removed: [], changed: [], unchanged: [] };
  for (const d of after) {
    const prev = old.get(d.name);
    if (!prev) diff.added.push(d);
    else if (JSON.stringify(prev) !== JSON.stringify(d)) diff.changed.push({ before: prev, after: d });
    else diff.unchanged.push(d);
    old.delete(d.name);
  }
  diff.removed = [...old.values()];
  return diff;
}
