// The host side of OPA's WebAssembly ABI (version 1; https://www.openpolicyagent.org/docs/wasm): instantiates a
// module built by `opa build -t wasm`, loads its data once, evaluates an entrypoint against an input, and answers
// the builtins the module imports from its host. Written here rather than taken from @open-policy-agent/opa-wasm
// because the builtins need what that SDK does not give them: the arguments' JSON text (nanosecond timestamps are
// integers beyond a double's precision), one clock per evaluation (OPA's `time.now_ns` is constant within one), and
// OPA's own semantics where the SDK's differ (its `sprintf` and `regex.split` follow JavaScript, not Go).
import { BuiltinContext, RawJson, RegoText, type Builtin } from './builtin.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const PAGE = 64 * 1024;

type Exports = {
  memory?: WebAssembly.Memory;
  opa_malloc(size: number): number;
  opa_json_parse(addr: number, len: number): number;
  opa_json_dump(addr: number): number;
  opa_value_dump(addr: number): number;
  opa_value_parse(addr: number, len: number): number;
  opa_heap_ptr_get(): number;
  opa_heap_ptr_set(addr: number): void;
  builtins(): number;
  entrypoints(): number;
  opa_eval?(reserved: number, entrypoint: number, data: number, input: number, inputLen: number, heapPtr: number, format: number): number;
  opa_eval_ctx_new(): number;
  opa_eval_ctx_set_input(ctx: number, input: number): void;
  opa_eval_ctx_set_data(ctx: number, data: number): void;
  opa_eval_ctx_set_entrypoint(ctx: number, entrypoint: number): void;
  opa_eval_ctx_get_result(ctx: number): number;
  eval(ctx: number): number;
  opa_wasm_abi_version?: WebAssembly.Global;
  opa_wasm_abi_minor_version?: WebAssembly.Global;
};

/** Bounds on one module: its memory, and a hook its instrumented code calls as it runs (tenant policies). */
export interface WasmLimits {
  /** The most 64 KiB pages its memory may grow to; growing further fails the evaluation. */
  maxPages?: number;
  onExecution?: () => void;
}

class PolicyAbortError extends Error {
  override name = 'PolicyAbortError';
}

/** One instantiated policy module. Not re-entrant: one evaluation at a time (Node runs them one at a time). */
export class WasmPolicy {
  /** Entrypoint name → id. */
  readonly entrypoints: Record<string, number>;
  /** The builtins the module asks its host for, by name. */
  readonly importedBuiltins: readonly string[];
  private readonly ex: Exports;
  private readonly minor: number;
  private dataAddr = 0;
  private baseHeap = 0;
  private dataHeap = 0;
  private readonly ctx: BuiltinContext;

  private constructor(
    instance: WebAssembly.Instance,
    private readonly memory: WebAssembly.Memory,
    idToName: Map<number, string>,
    ctx: BuiltinContext,
  ) {
    this.ex = instance.exports as unknown as Exports;
    const major = globalValue(this.ex.opa_wasm_abi_version) ?? 1;
    if (major !== 1) throw new Error(`the policy module uses OPA's WASM ABI ${major}, which tenantgate does not support (it supports 1.x)`);
    this.minor = globalValue(this.ex.opa_wasm_abi_minor_version) ?? 0;
    this.ctx = ctx;
    const builtins = this.dumpJson(this.ex.builtins()) as Record<string, number>;
    for (const [name, id] of Object.entries(builtins)) idToName.set(id, name);
    this.importedBuiltins = Object.keys(builtins);
    this.entrypoints = this.dumpJson(this.ex.entrypoints()) as Record<string, number>;
    this.dataAddr = this.loadJson('{}');
    this.baseHeap = this.ex.opa_heap_ptr_get();
    this.dataHeap = this.baseHeap;
  }

  /** Instantiates the module with its builtins answered from `builtins` (a missing one is undefined in Rego). */
  static async load(wasm: Uint8Array, builtins: ReadonlyMap<string, Builtin>, limits: WasmLimits = {}): Promise<WasmPolicy> {
    const initial = Math.max(5, pagesForData(wasm) + 2);
    if (limits.maxPages !== undefined && initial > limits.maxPages) throw new Error(`the policy module needs ${initial} pages of memory, more than its budget of ${limits.maxPages}`);
    const memory = new WebAssembly.Memory({ initial, ...(limits.maxPages !== undefined ? { maximum: limits.maxPages } : {}) });
    const idToName = new Map<number, string>();
    const ctx = new BuiltinContext();
    let policy: WasmPolicy | undefined;
    const call = (id: number, args: number[]): number => policy!.callBuiltin(builtins.get(idToName.get(id) ?? ''), args);
    const importObject = {
      env: {
        memory,
        opa_abort: (addr: number) => {
          throw new PolicyAbortError(policy ? policy.readString(addr) : 'the policy module aborted');
        },
        // print() output is not part of a decision; OPA's own server drops it too unless asked.
        opa_println: () => undefined,
        // Called at each function entry and loop header of a module instrumented for an evaluation budget.
        log_execution: limits.onExecution ?? (() => undefined),
        opa_builtin0: (id: number) => call(id, []),
        opa_builtin1: (id: number, _c: number, a: number) => call(id, [a]),
        opa_builtin2: (id: number, _c: number, a: number, b: number) => call(id, [a, b]),
        opa_builtin3: (id: number, _c: number, a: number, b: number, c: number) => call(id, [a, b, c]),
        opa_builtin4: (id: number, _c: number, a: number, b: number, c: number, d: number) => call(id, [a, b, c, d]),
      },
    };
    const { instance } = await WebAssembly.instantiate(wasm, importObject);
    policy = new WasmPolicy(instance, memory, idToName, ctx);
    return policy;
  }

  /** Replaces the module's data (`data.*` in Rego). */
  setData(json: string): void {
    this.ex.opa_heap_ptr_set(this.baseHeap);
    this.dataAddr = this.loadJson(json);
    this.dataHeap = this.ex.opa_heap_ptr_get();
  }

  /** The entrypoint's result set as JSON text, for an input given as JSON text (or bytes of it). */
  evaluate(input: string | Uint8Array, entrypoint: number): string {
    this.ctx.begin();
    try {
      return this.minor >= 2 ? this.evalFast(input, entrypoint) : this.evalClassic(input, entrypoint);
    } finally {
      this.ctx.end();
    }
  }

  private evalFast(input: string | Uint8Array, entrypoint: number): string {
    const bytes = typeof input === 'string' ? encoder.encode(input) : input;
    const addr = this.dataHeap;
    this.ensure(addr + bytes.byteLength);
    new Uint8Array(this.memory.buffer).set(bytes, addr);
    const result = this.ex.opa_eval!(0, entrypoint, this.dataAddr, addr, bytes.byteLength, addr + bytes.byteLength, 0);
    return this.readString(result);
  }

  private evalClassic(input: string | Uint8Array, entrypoint: number): string {
    this.ex.opa_heap_ptr_set(this.dataHeap);
    const inputAddr = this.loadJson(input);
    const ctx = this.ex.opa_eval_ctx_new();
    this.ex.opa_eval_ctx_set_input(ctx, inputAddr);
    this.ex.opa_eval_ctx_set_data(ctx, this.dataAddr);
    this.ex.opa_eval_ctx_set_entrypoint(ctx, entrypoint);
    this.ex.eval(ctx);
    return this.readString(this.ex.opa_json_dump(this.ex.opa_eval_ctx_get_result(ctx)));
  }

  /** A builtin call from the module: arguments as JSON text in, the result as a value address out (0: undefined). */
  private callBuiltin(builtin: Builtin | undefined, args: number[]): number {
    if (!builtin) return 0;
    const raw = args.map((a) => this.readString(this.ex.opa_json_dump(a)));
    let result: unknown;
    try {
      const rego = (i: number) => this.readString(this.ex.opa_value_dump(args[i]!));
      result = builtin(raw.map((r) => JSON.parse(r) as unknown), this.ctx, raw, rego);
    } catch {
      // OPA (without strict builtin errors) makes a builtin's error undefined, not the evaluation's failure.
      return 0;
    }
    if (result === undefined) return 0;
    if (result instanceof RegoText) return this.loadValue(result.text);
    return this.loadJson(result instanceof RawJson ? result.text : JSON.stringify(result));
  }

  private loadJson(json: string | Uint8Array): number {
    return this.load(json, 'opa_json_parse');
  }

  /** A value written in Rego's syntax (sets included), parsed by the module. */
  private loadValue(text: string): number {
    return this.load(text, 'opa_value_parse');
  }

  private load(text: string | Uint8Array, parse: 'opa_json_parse' | 'opa_value_parse'): number {
    const bytes = typeof text === 'string' ? encoder.encode(text) : text;
    const addr = this.ex.opa_malloc(bytes.byteLength);
    new Uint8Array(this.memory.buffer).set(bytes, addr);
    const parsed = this.ex[parse](addr, bytes.byteLength);
    if (parsed === 0) throw new Error(`the policy module could not parse a value (${parse})`);
    return parsed;
  }

  private dumpJson(addr: number): unknown {
    return JSON.parse(this.readString(this.ex.opa_json_dump(addr)));
  }

  private readString(addr: number): string {
    const bytes = new Uint8Array(this.memory.buffer);
    const end = bytes.indexOf(0, addr);
    return decoder.decode(bytes.subarray(addr, end < 0 ? bytes.length : end));
  }

  private ensure(end: number): void {
    const missing = end - this.memory.buffer.byteLength;
    if (missing > 0) this.memory.grow(Math.ceil(missing / PAGE));
  }
}

function globalValue(g: WebAssembly.Global | undefined): number | undefined {
  return g === undefined ? undefined : typeof g === 'number' ? g : Number(g.value);
}

/**
 * The memory pages the module's data segments reach (OPA's compiler puts policies' constants there). The module's
 * own import asks for less than a large policy needs, and the data would not fit the SDK's customary 5 pages.
 */
function pagesForData(wasm: Uint8Array): number {
  let pos = 8;
  const leb = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = wasm[pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) return result;
    }
  };
  const sleb = (): number => {
    let result = 0;
    let shift = 0;
    let b: number;
    do {
      b = wasm[pos++]!;
      result |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    return shift < 32 && b & 0x40 ? result | (~0 << shift) : result;
  };
  let end = 0;
  while (pos < wasm.length) {
    const id = wasm[pos++]!;
    const size = leb();
    const next = pos + size;
    if (id === 11) {
      for (let n = leb(); n > 0; n--) {
        const flags = leb();
        let offset = 0;
        if (flags !== 1) {
          if (flags === 2) leb();
          if (wasm[pos++] === 0x41) offset = sleb();
          while (wasm[pos] !== 0x0b) pos++;
          pos++;
        }
        const len = leb();
        end = Math.max(end, offset + len);
        pos += len;
      }
    }
    pos = next;
  }
  return Math.ceil(end / 65536);
}
