// alsa-health public API.
export { openPcm, listPcms, sdNotify, PcmStream } from './pcm.js';
export { PcmError, isPcmError } from './errors.js';
export type * from './types.js';
