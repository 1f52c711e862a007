/** TypeScript views of the envoy.service.discovery.v3 delta messages and friends. */

/** JSON-like google.protobuf.Struct as protobufjs represents it. */
export interface ProtoStruct {
  fields?: Record<string, ProtoValue>;
}
export interface ProtoValue {
  nullValue?: number;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: ProtoStruct;
  listValue?: { values?: ProtoValue[] };
}

export interface Node {
  id?: string;
  cluster?: string;
  metadata?: ProtoStruct;
}

export interface RpcStatus {
  code?: number;
  message?: string;
}

export interface AnyMessage {
  typeUrl?: string;
  value?: Uint8Array;
}

export interface DeltaDiscoveryRequest {
  node?: Node;
  typeUrl?: string;
  resourceNamesSubscribe?: string[];
  resourceNamesUnsubscribe?: string[];
  initialResourceVersions?: Record<string, string>;
  responseNonce?: string;
  errorDetail?: RpcStatus;
}

export interface DeltaResource {
  version?: string;
  resource?: AnyMessage;
  name?: string;
  aliases?: string[];
}

export interface DeltaDiscoveryResponse {
  systemVersionInfo?: string;
  resources?: DeltaResource[];
  typeUrl?: string;
  nonce?: string;
  removedResources?: string[];
}

/** istio.v1.auth.IstioCertificateRequest (validityDuration in seconds). */
export interface IstioCertificateRequest {
  csr?: string;
  validityDuration?: number;
  metadata?: ProtoStruct;
}

export interface IstioCertificateResponse {
  certChain?: string[];
}
