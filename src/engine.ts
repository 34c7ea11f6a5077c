// The engine alone (no monitor, no pino, no observer): `alsa-health/engine`,
// for programs that only stream and measure, and load faster and smaller.
export { openPcm, listPcms, sdNotify, PcmStream } from './pcm.js';
export { PcmError, isPcmError } from './errors.js';
export { frameBalance, type FrameBalance } from './accounting.js';
export type * from './types.js';
