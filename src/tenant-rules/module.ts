// A tenant's compiled Rego at run time: its own WASM instance (no other tenant's state in it), a memory ceiling,
// and a time budget enforced from inside the module: the instrumented code calls back as it runs, and the callback
// throws once the deadline has passed. Only `deny` and `headers` are read of the module's value, so it can deny or
// add headers and nothing else. A failure is the module's: it fails this tenant's request, and a fresh instance
// serves the next one.
import { WasmPolicy } from '../policy/wasm/host.js';
import { HOST_BUILTINS } from '../policy/builtins/index.js';
import { project, type Projection } from '../policy/deps.js';
import { reservedHeader } from '../core/tenant-rules.js';

export interface ModuleBudget {
  /** Milliseconds of evaluation. */
  timeMs: number;
  /** Memory, in MiB. */
  memoryMb: number;
}

export type ModuleAnswer = { deny: string[]; headers: Record<string, string> } | { error: string };

class BudgetExceeded extends Error {}

const PAGE = 64 * 1024;

export class TenantModule {
  private policy: WasmPolicy | undefined;
  private deadline = 0;
  private calls = 0;
  private readonly projection: Projection | undefined;

  private constructor(
    private readonly wasm: Uint8Array,
    projection: string | null,
    private readonly entrypoint: string,
    private readonly budget: ModuleBudget,
  ) {
    this.projection = projection ? (JSON.parse(projection) as Projection) : undefined;
  }

  static async load(wasm: Uint8Array, projection: string | null, entrypoint: string, budget: ModuleBudget): Promise<TenantModule> {
    const m = new TenantModule(wasm, projection, entrypoint, budget);
    await m.instantiate();
    return m;
  }

  /** Whether the module can read the parsed body (no projection: it may read anything). */
  get readsBody(): boolean {
    return this.projection === undefined || 'parsed_body' in this.projection;
  }

  private async instantiate(): Promise<WasmPolicy> {
    // No deadline outside an evaluation: instantiating runs instrumented code too.
    this.deadline = Infinity;
    const policy = await WasmPolicy.load(this.wasm, HOST_BUILTINS, {
      maxPages: Math.max(1, Math.floor((this.budget.memoryMb * 1024 * 1024) / PAGE)),
      // performance.now() only every 1024th call: the call itself is the cost worth paying per loop iteration.
      onExecution: () => {
        if ((++this.calls & 1023) === 0 && performance.now() > this.deadline) throw new BudgetExceeded();
      },
    });
    policy.setData('{}');
    this.policy = policy;
    return policy;
  }

  /** The module's answer for an input; an error when it fails, runs out of time or memory, or answers nonsense. */
  evaluate(input: Record<string, unknown>): ModuleAnswer | Promise<ModuleAnswer> {
    const policy = this.policy;
    if (!policy) return this.instantiate().then(() => this.evaluate(input), (err: unknown) => ({ error: `the module could not be loaded: ${(err as Error).message}` }));
    const json = JSON.stringify(this.projection ? project(input, this.projection) : input);
    this.calls = 0;
    this.deadline = performance.now() + this.budget.timeMs;
    let text: string;
    try {
      text = policy.evaluate(json, policy.entrypoints[this.entrypoint] ?? 0);
      this.deadline = Infinity;
    } catch (err) {
      this.deadline = Infinity;
      // Its state after a trap is unknown: the next request gets a new instance.
      this.policy = undefined;
      if (err instanceof BudgetExceeded) return { error: `it ran longer than its budget of ${this.budget.timeMs} ms` };
      // OPA's allocator aborts with opa_malloc when the memory cannot grow past its maximum.
      if (err instanceof RangeError || /opa_malloc|memory/i.test((err as Error).message)) return { error: `it needed more memory than its budget of ${this.budget.memoryMb} MiB` };
      return { error: `it failed: ${(err as Error).message}` };
    }
    return answer(text);
  }
}

/** Reads `deny` (a set of messages) and `headers` (an object of strings) from the package's value. */
function answer(text: string): ModuleAnswer {
  const results = JSON.parse(text) as { result?: { deny?: unknown; headers?: unknown } }[];
  const value = results[0]?.result ?? {};
  const deny: string[] = [];
  if (value.deny !== undefined) {
    if (!Array.isArray(value.deny)) return { error: 'its deny is not a set' };
    for (const d of value.deny) deny.push(typeof d === 'string' ? d : typeof (d as { reason?: unknown })?.reason === 'string' ? (d as { reason: string }).reason : JSON.stringify(d));
  }
  const headers: Record<string, string> = {};
  const h = value.headers;
  if (h !== undefined) {
    if (typeof h !== 'object' || h === null || Array.isArray(h)) return { error: 'its headers is not an object' };
    for (const [k, v] of Object.entries(h)) {
      // Checked at upload for what can be seen there; a header made at run time is checked here.
      if (typeof v !== 'string' || reservedHeader(k) !== null || !/^[\x20-\x7e]*$/.test(v)) continue;
      headers[k.toLowerCase()] = v;
    }
  }
  return { deny: deny.sort(), headers };
}
