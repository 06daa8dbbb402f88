// Every builtin tenantgate answers for a policy module (those `opa build -t wasm` leaves to the host), and the ones
// it refuses at load time, with why. A module that imports a builtin not answered here never starts serving.
import type { Builtin, Builtins } from '../wasm/builtin.js';
import { cryptoBuiltins } from './crypto.js';
import { encodingBuiltins } from './encoding.js';
import { jwtBuiltins } from './jwt.js';
import { jsonPatchBuiltins } from './json-patch.js';
import { miscBuiltins } from './misc.js';
import { netBuiltins } from './net.js';
import { semverBuiltins } from './semver.js';
import { stringBuiltins } from './strings.js';
import { timeBuiltins } from './time.js';
import { unitsBuiltins } from './units.js';
import { uuidBuiltins } from './uuid.js';
import { uriBuiltins } from './uri.js';
import { GO_BUILTINS, goBuiltin, loadOpaGo } from '../opa-go/module.js';

const families: Builtins[] = [cryptoBuiltins, encodingBuiltins, jsonPatchBuiltins, jwtBuiltins, miscBuiltins, netBuiltins, semverBuiltins, stringBuiltins, timeBuiltins, unitsBuiltins, uriBuiltins, uuidBuiltins];

export const HOST_BUILTINS: ReadonlyMap<string, Builtin> = new Map([
  ...families.flatMap((f) => Object.entries(f)),
  ...GO_BUILTINS.map((name) => [name, goBuiltin(name)] as const),
]);

/** Builtins refused by design, with the reason given to the policy author. */
const REFUSED: Record<string, string> = {
  'http.send': 'a check must not wait on the network; fetch the data into a bundle instead',
  'net.lookup_ip_addr': 'a check must not wait on DNS',
  'providers.aws.sign_req': 'signing outbound requests has no use in a check',
};

/**
 * Makes ready what a module importing `imported` needs (OPA's builtins module, when it calls one of those) and
 * returns the builtins among them that tenantgate cannot answer, each with why.
 */
export async function unsupportedBuiltins(imported: readonly string[]): Promise<string[]> {
  let goMissing: string | undefined;
  if (imported.some((b) => GO_BUILTINS.includes(b))) {
    goMissing = await loadOpaGo().then(
      () => undefined,
      (err: unknown) => (err as Error).message,
    );
  }
  return imported
    .filter((b) => !HOST_BUILTINS.has(b) || (goMissing !== undefined && GO_BUILTINS.includes(b)))
    .map((b) => `${b} (${REFUSED[b] ?? goMissing ?? 'not provided by tenantgate'})`);
}
