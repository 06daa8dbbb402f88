// What a host builtin is: a function of its arguments (parsed, and as the JSON text they came in) and of the
// evaluation it is called in. It returns a JSON value, `undefined` (undefined in Rego), or RawJson; a throw is
// undefined too, as a builtin's error is in OPA without strict builtin errors.

/** A builtin's result given as JSON text: numbers that a double cannot hold exactly (nanoseconds) stay exact. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** A builtin's result in Rego's own syntax: how a builtin returns a set (JSON has none). */
export class RegoText {
  constructor(readonly text: string) {}
}

/** State that lasts one evaluation: OPA gives every call of `time.now_ns` in one evaluation the same value. */
export class BuiltinContext {
  private nowNs: bigint | undefined;
  /** Per-evaluation memo of calls that must agree within one evaluation (rand.intn). */
  readonly memo = new Map<string, unknown>();

  begin(): void {
    this.nowNs = undefined;
    if (this.memo.size) this.memo.clear();
  }

  end(): void {
    this.nowNs = undefined;
  }

  /** Nanoseconds since the epoch, fixed at the first call in this evaluation. */
  now(): bigint {
    return (this.nowNs ??= BigInt(Date.now()) * 1_000_000n + BigInt(process.hrtime()[1] % 1_000_000));
  }
}

/** args parsed; raw: their JSON text; rego(i): argument i in Rego's own syntax (sets as sets). */
export type Builtin = (args: unknown[], ctx: BuiltinContext, raw: string[], rego: (i: number) => string) => unknown;

/** A family of builtins by name. */
export type Builtins = Record<string, Builtin>;

/** Throws (so the call is undefined) unless v is a string. */
export function str(v: unknown): string {
  if (typeof v !== 'string') throw new TypeError('operand must be a string');
  return v;
}

export function num(v: unknown): number {
  if (typeof v !== 'number') throw new TypeError('operand must be a number');
  return v;
}

export function int(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError('operand must be an integer');
  return v;
}

export function obj(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError('operand must be an object');
  return v as Record<string, unknown>;
}

export function arr(v: unknown): unknown[] {
  if (!Array.isArray(v)) throw new TypeError('operand must be an array');
  return v;
}

/** An integer argument as an exact BigInt, from the JSON text it came in (a double would round nanoseconds). */
export function bigintArg(raw: string | undefined): bigint {
  if (raw === undefined || !/^-?\d+$/.test(raw)) {
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new TypeError('operand must be a number');
    return BigInt(Math.trunc(n));
  }
  return BigInt(raw);
}

/** A builtin `*.is_valid`: true when `read` accepts the string, false for anything else (never undefined). */
export function validity(read: (s: string) => unknown): Builtin {
  return ([s]) => {
    if (typeof s !== 'string') return false;
    try {
      read(s);
      return true;
    } catch {
      return false;
    }
  };
}
