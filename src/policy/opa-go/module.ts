// The builtins tenantgate answers with OPA's own Go code (tools/opa-builtins, built for WASI by the set-up): those
// whose results are Go's structures (certificates, the GraphQL and Rego ASTs, JSON Schema errors, text/template),
// which a rewrite could not match. The module is large (27 MB; 130 MB or more of memory once compiled), so it is
// loaded only when a policy imports one of them, once per process.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { RawJson, RegoText, type Builtin, type BuiltinContext } from '../wasm/builtin.js';
import { WasiSandbox } from './wasi.js';

export const GO_BUILTINS: readonly string[] = [
  'crypto.parse_private_keys',
  'crypto.x509.parse_and_verify_certificates',
  'crypto.x509.parse_and_verify_certificates_with_options',
  'crypto.x509.parse_certificate_request',
  'crypto.x509.parse_certificates',
  'crypto.x509.parse_keypair',
  'crypto.x509.parse_rsa_private_key',
  'graphql.is_valid',
  'graphql.parse',
  'graphql.parse_and_verify',
  'graphql.parse_query',
  'graphql.parse_schema',
  'graphql.schema_is_valid',
  'json.match_schema',
  'json.verify_schema',
  'regex.globs_match',
  'rego.parse_module',
  'strings.render_template',
];

/** Where the set-up builds the module; TENANTGATE_OPA_BUILTINS_WASM overrides it. */
export function opaGoModulePath(): string {
  return process.env.TENANTGATE_OPA_BUILTINS_WASM ?? fileURLToPath(new URL('../../../.tools/lib/opa-builtins.wasm', import.meta.url));
}

type Exports = {
  memory: WebAssembly.Memory;
  _initialize(): void;
  tg_alloc(n: number): number;
  tg_free(p: number): void;
  tg_call(namePtr: number, nameLen: number, argsPtr: number, argsLen: number, nowNs: bigint): bigint;
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

class OpaGoModule {
  constructor(
    private readonly ex: Exports,
    private readonly sandbox: WasiSandbox,
  ) {}

  /** One builtin call: its result as the WASM host takes it; a Go error throws (undefined in Rego). */
  call(name: string, regoArgs: string, nowNs: bigint): RawJson | RegoText | undefined {
    const ex = this.ex;
    const [np, nl] = this.put(name);
    const [ap, al] = this.put(regoArgs);
    let packed: bigint;
    try {
      packed = ex.tg_call(np, nl, ap, al, nowNs);
    } catch (err) {
      throw new Error(`${name} failed in OPA's builtins module: ${this.sandbox.output.trim() || (err as Error).message}`);
    } finally {
      ex.tg_free(np);
      ex.tg_free(ap);
    }
    const p = Number(packed >> 32n);
    const text = decoder.decode(new Uint8Array(ex.memory.buffer, p, Number(packed & 0xffffffffn)));
    ex.tg_free(p);
    const body = text.slice(1);
    switch (text[0]) {
      case 'v':
        return new RawJson(body);
      case 'r':
        return new RegoText(body);
      case 'u':
        return undefined;
      default:
        throw new Error(body);
    }
  }

  private put(s: string): [number, number] {
    const bytes = encoder.encode(s);
    const p = this.ex.tg_alloc(bytes.byteLength);
    new Uint8Array(this.ex.memory.buffer, p, bytes.byteLength).set(bytes);
    return [p, bytes.byteLength];
  }
}

let loading: Promise<OpaGoModule> | undefined;
let loaded: OpaGoModule | undefined;

/** Loads the module once (later calls share the first); rejects, naming the file, when it is missing. */
export function loadOpaGo(): Promise<void> {
  loading ??= instantiate(opaGoModulePath()).then((m) => {
    loaded = m;
    return m;
  });
  // A failed load is retried on the next policy load (the module may have been built since).
  return loading.then(
    () => undefined,
    (err: unknown) => {
      loading = undefined;
      throw err;
    },
  );
}

async function instantiate(path: string): Promise<OpaGoModule> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    throw new Error(`OPA's builtins module is not built (${path}); run npm run setup, which builds it with Go`);
  }
  const sandbox = new WasiSandbox();
  const { instance } = await WebAssembly.instantiate(bytes, { wasi_snapshot_preview1: sandbox.imports() });
  const ex = instance.exports as unknown as Exports;
  sandbox.bind(ex.memory);
  ex._initialize();
  return new OpaGoModule(ex, sandbox);
}

/** The host builtin for `name`, answered by the module (which loadOpaGo must have loaded). */
export function goBuiltin(name: string): Builtin {
  return (args: unknown[], ctx: BuiltinContext, _raw: string[], rego: (i: number) => string) => {
    if (!loaded) throw new Error("OPA's builtins module is not loaded");
    return loaded.call(name, `[${args.map((_, i) => rego(i)).join(',')}]`, ctx.now());
  };
}
