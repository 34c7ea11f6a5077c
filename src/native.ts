// Loads the addon (a prebuilt binary or the local build) and declares its
// surface. The only file that touches the native module.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { PcmError } from './errors.js';
import type { PcmEvent, PcmInfo, PcmOptions, HealthSample } from './types.js';

export interface NativeParams {
  rate: number;
  channels: number;
  format: string;
  periodFrames: number;
  bufferFrames: number;
  bytesPerFrame: number;
  /** Set when rtPriority was refused. */
  warning?: string;
}

export type NativeMessage =
  | { kind: 'sample'; payload: HealthSample }
  | { kind: 'event'; payload: PcmEvent }
  | { kind: 'audio'; payload: undefined };

/** Native-private: use PcmStream (src/pcm.ts). */
export interface NativePcmHandle {
  open(): Promise<NativeParams>;
  reopen(): Promise<NativeParams>;
  close(): Promise<void>;
  /** Capture: drains the ring (null when empty). */
  read(maxBytes?: number): Buffer | null;
  /** Playback: copies whole frames that fit into the ring; returns bytes taken. */
  write(chunk: Buffer): number;
  ref(): void;
  unref(): void;
  readonly state: 'idle' | 'opening' | 'open' | 'closing' | 'closed';
}

export interface NativeAddon {
  PcmHandle: new (
    options: PcmOptions,
    onMessage: (kind: NativeMessage['kind'], payload: unknown) => void,
  ) => NativePcmHandle;
  listPcms(): Promise<PcmInfo[]>;
  sdNotify(message: string): boolean;
  setErrorClass(ctor: typeof PcmError): void;
  errnoName(errno: number): string;
}

const packageRoot = fileURLToPath(new URL('..', import.meta.url));

function load(): NativeAddon {
  const require = createRequire(import.meta.url);
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeAddon;
  try {
    return nodeGypBuild(packageRoot);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `alsa-health: no native addon for ${process.platform}-${process.arch} (node ${process.version}): ${why}\n` +
        `Build it from source in ${packageRoot}: apt-get install libasound2-dev g++ make python3 && npm run build:native`,
    );
  }
}

export const native: NativeAddon = load();
native.setErrorClass(PcmError);
