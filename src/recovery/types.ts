// Public shapes of the recovery layer: callbacks, events, per-device state.

/** What a recovery action gets besides the device: which attempt, and a signal aborted at the attempt's timeout. */
export interface RecoveryContext {
  attempt: number;
  signal: AbortSignal;
}

/**
 * A registered recovery step. It may return a promise; throwing or rejecting
 * fails the attempt (logged and counted, never an unhandled rejection).
 */
export type RecoveryCallback = (device: string, ctx: RecoveryContext) => Promise<void> | void;

/** idle: nothing to do; waiting: next attempt scheduled; running: attempt in flight;
 * settled: last attempt succeeded, waiting for the device to stream; gaveUp: maxAttempts failed. */
export type RecoveryPhase = 'idle' | 'waiting' | 'running' | 'settled' | 'gaveUp';

export interface RecoveryState {
  phase: RecoveryPhase;
  /** Attempts since the device last streamed. */
  attempts: number;
  gaveUp: boolean;
  /** When waiting: milliseconds until the next attempt. */
  nextAttemptInMs: number | null;
  lastError: string | null;
}

export interface AttemptEvent {
  device: string;
  attempt: number;
}
export interface SuccessEvent {
  device: string;
  attempt: number;
  durationMs: number;
}
export interface FailureEvent {
  device: string;
  attempt: number;
  error: string;
  timedOut: boolean;
  /** Wait before the next attempt, or null when this failure made the controller give up. */
  nextDelayMs: number | null;
}
export interface EscalateEvent {
  device: string;
  attempts: number;
  lastError: string | null;
}
export interface ResetEvent {
  device: string;
  /** Attempts it took; 0 when the device recovered on its own before any attempt. */
  attempts: number;
}

export interface RecoveryEvents {
  attempt: [AttemptEvent];
  success: [SuccessEvent];
  failure: [FailureEvent];
  escalate: [EscalateEvent];
  reset: [ResetEvent];
}
