// The WASI (preview 1) system interface the OPA builtins module (tools/opa-builtins) runs on, reduced to a
// sandbox: no files, no arguments or environment, a clock, randomness, and output kept for error messages.
// Written here rather than taken from node:wasi, which is experimental in Node 20 (it warns on every start) and
// would grant the module whatever directories it is given.
import { randomFillSync } from 'node:crypto';

const SUCCESS = 0;
const BADF = 8;
const NOTCAPABLE = 76;
const CHARACTER_DEVICE = 2;
/** Output beyond this is dropped: it is only read to explain a failure. */
const MAX_OUTPUT = 8192;

export class WasiSandbox {
  private memory: WebAssembly.Memory | undefined;
  /** What the module wrote to stdout/stderr (a Go panic's message, for one). */
  output = '';

  bind(memory: WebAssembly.Memory): void {
    this.memory = memory;
  }

  private view(): DataView {
    return new DataView(this.memory!.buffer);
  }

  imports(): Record<string, (...args: never[]) => number> {
    const zeroPair = (a: number, b: number): number => {
      this.view().setUint32(a, 0, true);
      this.view().setUint32(b, 0, true);
      return SUCCESS;
    };
    const badf = (): number => BADF;
    const notCapable = (): number => NOTCAPABLE;
    return {
      args_sizes_get: zeroPair,
      environ_sizes_get: zeroPair,
      args_get: () => SUCCESS,
      environ_get: () => SUCCESS,
      clock_time_get: (id: number, _precision: bigint, out: number) => {
        const ns = id === 0 ? BigInt(Date.now()) * 1_000_000n : process.hrtime.bigint();
        this.view().setBigUint64(out, ns, true);
        return SUCCESS;
      },
      random_get: (buf: number, len: number) => {
        randomFillSync(new Uint8Array(this.memory!.buffer, buf, len));
        return SUCCESS;
      },
      fd_write: (fd: number, iovs: number, count: number, written: number) => this.write(fd, iovs, count, written),
      fd_fdstat_get: (fd: number, out: number) => {
        if (fd > 2) return BADF;
        new Uint8Array(this.memory!.buffer, out, 24).fill(0);
        this.view().setUint8(out, CHARACTER_DEVICE);
        return SUCCESS;
      },
      // Timers expire at once: a builtin call never waits (nothing in it sleeps, and the host is synchronous).
      poll_oneoff: (subs: number, events: number, n: number, count: number) => {
        const v = this.view();
        for (let i = 0; i < n; i++) {
          v.setBigUint64(events + i * 32, v.getBigUint64(subs + i * 48, true), true);
          v.setUint16(events + i * 32 + 8, 0, true);
          v.setUint8(events + i * 32 + 10, v.getUint8(subs + i * 48 + 8));
        }
        v.setUint32(count, n, true);
        return SUCCESS;
      },
      sched_yield: () => SUCCESS,
      proc_exit: (code: number) => {
        throw new Error(`the OPA builtins module exited (${code}): ${this.output.trim()}`);
      },
      fd_close: badf,
      fd_read: badf,
      fd_readdir: badf,
      fd_seek: badf,
      fd_filestat_get: badf,
      fd_fdstat_set_flags: badf,
      fd_prestat_get: badf,
      fd_prestat_dir_name: badf,
      path_open: notCapable,
      path_filestat_get: notCapable,
      path_readlink: notCapable,
    };
  }

  private write(fd: number, iovs: number, count: number, written: number): number {
    if (fd !== 1 && fd !== 2) return BADF;
    const v = this.view();
    let total = 0;
    for (let i = 0; i < count; i++) {
      const ptr = v.getUint32(iovs + i * 8, true);
      const len = v.getUint32(iovs + i * 8 + 4, true);
      if (this.output.length < MAX_OUTPUT) this.output += Buffer.from(this.memory!.buffer, ptr, len).toString('utf8');
      total += len;
    }
    v.setUint32(written, total, true);
    return SUCCESS;
  }
}
