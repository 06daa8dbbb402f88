// A flush that runs every interval in the background, and once more when closed: what the write-behind buffers
// (key last use, audits) and the usage counters share.
export class Periodic {
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly flush: () => Promise<void>,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    // Never what keeps the process alive.
    this.timer.unref();
  }

  /** Stops the timer and flushes what is left. */
  close(): Promise<void> {
    clearInterval(this.timer);
    return this.flush();
  }
}
