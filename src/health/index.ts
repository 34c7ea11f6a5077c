// Public API of the health layer.
export { HealthMonitor, type HealthMonitorOptions, type HealthMonitorEvents, type RecoveryActivity, type WatchOptions } from './monitor.js';
export { healthDefaults, resolveHealthConfig, type HealthMonitorConfig, type HealthMonitorConfigInput } from './config.js';
export { statusOf, scoreOf, settleStatus, SEVERITY, type AssessConfig, type ShownStatus } from './assess.js';
export { DeviceRecorder, type MetricsSettings } from './metrics.js';
export type * from './types.js';
