// The answer to a check, as tenantgate builds it: Envoy's CheckResponse in protobufjs' camelCase form. One model for
// the builder (check/respond.ts), the encoders (check/encode.ts, check/allow-template.ts) and the HTTP mode.

/** A HeaderValueOption; `append` is always written (Envoy 1.37 reads an unset one as append). */
export interface HeaderOption {
  header: { key: string; value: string };
  append: { value: boolean };
}

/** google.protobuf.Value, in protobufjs' camelCase names (its well-known types ignore keepCase). */
export type StructValue =
  | { nullValue: 'NULL_VALUE' }
  | { stringValue: string }
  | { numberValue: number }
  | { boolValue: boolean }
  | { listValue: { values: StructValue[] } }
  | { structValue: Struct };

export interface Struct {
  fields: Record<string, StructValue>;
}

export interface OkResponse {
  headers: HeaderOption[];
  headersToRemove: readonly string[];
  responseHeadersToAdd?: HeaderOption[];
}

export interface DeniedResponse {
  status: { code: number };
  headers: HeaderOption[];
  body: string;
}

export interface CheckResponseModel {
  status: { code: number; message: string };
  okResponse?: OkResponse;
  deniedResponse?: DeniedResponse;
  dynamicMetadata?: Struct;
}
