// alsa-health public API.
export { openPcm, listPcms, sdNotify, PcmStream } from './pcm.js';
export { PcmError, isPcmError } from './errors.js';
export { frameBalance, type FrameBalance } from './accounting.js';
export {
  HealthMonitor,
  healthDefaults,
  statusOf,
  scoreOf,
  type HealthMonitorOptions,
  type HealthMonitorEvents,
  type HealthMonitorConfig,
  type WatchOptions,
} from './health/index.js';
export { RecoveryController, backoffDelayMs, recoveryDefaults, type RecoveryConfig } from './recovery/index.js';
export { observePcm, PcmObserver, listOpenPcms } from './observe/index.js';
export type { ObserveOptions, OpenPcmInfo, PcmSpec, PcmAddress } from './observe/index.js';
export type * from './types.js';
