// The ordered close list. Whatever start-up opens registers how to close it, and shutdown closes in the reverse
// order: the close order cannot drift from the start order, however the wiring changes.
import type { Logger } from '../telemetry/logger.js';

export class Lifecycle {
  private readonly steps: { name: string; close: () => unknown }[] = [];
  /** Set when shutdown begins: what retries (a store write) tries once more and gives up. */
  closing = false;

  /** Registers `close` for what was just opened. */
  add(name: string, close: () => unknown): void {
    this.steps.push({ name, close });
  }

  /** Closes everything, last opened first; a step that fails is logged and the rest still close. */
  async close(log: Logger): Promise<void> {
    this.closing = true;
    for (const { name, close } of this.steps.splice(0).reverse()) {
      try {
        await close();
      } catch (err) {
        log.warn({ err: (err as Error).message, step: name }, 'a step of the shutdown failed');
      }
    }
  }
}
