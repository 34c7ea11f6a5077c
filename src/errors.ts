// The one error class the addon throws for ALSA and system failures.

/**
 * An ALSA or system error: `code` is the errno name ('ENODEV', 'EBUSY', ...),
 * `errno` the negative number alsa-lib returned, `device` the PCM name.
 * Argument mistakes are plain TypeError / RangeError instead.
 */
export class PcmError extends Error {
  declare readonly code: string;
  declare readonly errno: number;
  declare readonly device: string;

  constructor(message: string) {
    super(message);
    this.name = 'PcmError';
  }
}

export function isPcmError(err: unknown): err is PcmError {
  return err instanceof PcmError;
}
