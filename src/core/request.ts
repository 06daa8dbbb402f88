// The request as every phase sees it, after normalisation.
export interface NormalizedRequest {
  method: string;
  /** Canonical path: percent-decoded, no empty, "." or ".." segments, no query. */
  path: string;
  parsedPath: string[];
  parsedQuery: Record<string, string[]>;
  /** Lower-case names; repeated headers joined with "," as Envoy does. */
  headers: Record<string, string>;
  host: string;
  scheme: string;
  contextExtensions: Record<string, string>;
  body: string | null;
  parsedBody: unknown;
  bodyError: string | null;
  truncatedBody: boolean;
  /** CheckRequest.attributes in protojson names, for OPA-Envoy compatible policies. */
  attributes: Record<string, unknown>;
}
