// One procfs file read again and again through the same descriptor: pread at
// offset 0 makes the kernel's seq_file generate the text anew, so a poll is a
// single syscall into a preallocated Buffer. A removed entry (card unplugged)
// answers EIO / ENODEV, or 0 bytes for a plain file in a test tree: the caller
// then checks whether the card is still there.

import { closeSync, openSync, readSync } from 'node:fs';

export class ProcFile {
  private fd = -1;
  /** errno name of the last failed read or open ('ENOENT', 'EIO', ...), or '' after a success. */
  lastError = '';

  constructor(
    readonly path: string,
    private readonly buf: Buffer,
  ) {}

  /** Bytes read into the buffer (0 = empty or gone: see lastError), or -1 on failure. */
  read(): number {
    try {
      if (this.fd < 0) this.fd = openSync(this.path, 'r');
      const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
      this.lastError = n > 0 ? '' : 'EIO';
      if (n === 0) this.close();
      return n;
    } catch (err) {
      this.lastError = (err as NodeJS.ErrnoException).code ?? 'EIO';
      this.close();
      return -1;
    }
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      closeSync(this.fd);
    } catch {
      /* already gone */
    }
    this.fd = -1;
  }
}
