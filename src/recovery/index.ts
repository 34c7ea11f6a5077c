// Public API of the recovery layer.
export { RecoveryController, type RecoveryControllerOptions } from './controller.js';
export { backoffDelayMs, type BackoffConfig } from './backoff.js';
export { recoveryDefaults, resolveRecoveryConfig, type RecoveryConfig } from './config.js';
export type * from './types.js';
