// A circuit breaker for the quota store. A Redis that holds connections open but does not answer makes every
// check wait the full timeout; after `threshold` failures in a row the breaker opens, checks go straight to the
// configured fail mode, and a probe (not live traffic) runs in the background until the store answers again.
// Hand-written rather than a library: it must cost nothing per check while closed (two field reads) and probe
// with a PING of its own instead of letting a live request through half-open.
export class Breaker {
  private consecutive = 0;
  private timer: NodeJS.Timeout | undefined;
  private isOpen = false;
  /** Checks answered by the fail mode without asking the store, since start. */
  shortCircuited = 0;

  constructor(
    private readonly threshold: number,
    private readonly probeMs: number,
    private readonly probe: () => Promise<unknown>,
    private readonly onChange: (open: boolean) => void = () => undefined,
  ) {}

  /** Whether calls should skip the store now (counted as short-circuited). */
  skip(): boolean {
    if (!this.isOpen) return false;
    this.shortCircuited++;
    return true;
  }

  get open(): boolean {
    return this.isOpen;
  }

  success(): void {
    this.consecutive = 0;
  }

  failure(): void {
    if (++this.consecutive >= this.threshold && !this.isOpen) {
      this.isOpen = true;
      this.onChange(true);
      this.schedule();
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.probe().then(
        () => {
          this.isOpen = false;
          this.consecutive = 0;
          this.timer = undefined;
          this.onChange(false);
        },
        () => this.schedule(),
      );
    }, this.probeMs);
    this.timer.unref();
  }
}
