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

const families: Builtins[] = [cryptoBuiltins, encodingBuiltins, jsonPatchBuiltins, jwtBuiltins, miscBuiltins, netBuiltins, semverBuiltins, stringBuiltins, timeBuiltins, unitsBuiltins, uriBuiltins, uuidBuiltins];

export const HOST_BUILTINS: ReadonlyMap<string, Builtin> = new Map(families.flatMap((f) => Object.entries(f)));

/** Builtins refused by design, with the reason given to the policy author. */
const REFUSED: Record<string, string> = {
  'http.send': 'a check must not wait on the network; fetch the data into a bundle instead',
  'net.lookup_ip_addr': 'a check must not wait on DNS',
  'providers.aws.sign_req': 'signing outbound requests has no use in a check',
};

/** The builtins among `imported` that tenantgate does not answer, each with why. */
export function unsupportedBuiltins(imported: readonly string[]): string[] {
  return imported.filter((b) => !HOST_BUILTINS.has(b)).map((b) => `${b} (${REFUSED[b] ?? 'not provided by tenantgate'})`);
}
