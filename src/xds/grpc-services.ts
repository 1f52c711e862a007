import * as grpc from '@grpc/grpc-js';
import { decodeMessage, decodeMessageFast, encodeMessage } from './codec.js';
import { CREATE_CERTIFICATE_PATH, DELTA_ADS_PATH } from './type-urls.js';
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  IstioCertificateRequest,
  IstioCertificateResponse,
} from './discovery-types.js';

/**
 * gRPC service definitions for @grpc/grpc-js with serializers built on protobufjs (no proto-loader).
 *
 * The server side of ADS sends already-framed bytes (see frame.ts), so its response serializer is the
 * identity; the client side decodes responses and keeps their size on the wire.
 */

const REQ = 'envoy.service.discovery.v3.DeltaDiscoveryRequest';
const RES = 'envoy.service.discovery.v3.DeltaDiscoveryResponse';

export function serializeDeltaRequest(req: DeltaDiscoveryRequest): Buffer {
  const bytes = encodeMessage(REQ, req);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function deserializeDeltaRequest(buf: Buffer): DeltaDiscoveryRequest {
  return decodeMessage<DeltaDiscoveryRequest>(REQ, buf);
}

/** A decoded response plus its encoded size (bytes of the protobuf message, without gRPC framing). */
export interface ReceivedDeltaResponse {
  response: DeltaDiscoveryResponse;
  byteLength: number;
}

export function deserializeDeltaResponse(buf: Buffer): ReceivedDeltaResponse {
  return { response: decodeMessageFast<DeltaDiscoveryResponse>(RES, buf), byteLength: buf.length };
}

function identity(buf: Buffer): Buffer {
  return buf;
}

/** Server-side definition: requests decoded, responses sent as pre-framed bytes. */
export const adsServerDefinition = {
  DeltaAggregatedResources: {
    path: DELTA_ADS_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: serializeDeltaRequest,
    requestDeserialize: deserializeDeltaRequest,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
} satisfies grpc.ServiceDefinition;

/** Client-side definition: requests encoded, responses decoded. */
export const adsClientDefinition = {
  DeltaAggregatedResources: {
    path: DELTA_ADS_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: serializeDeltaRequest,
    requestDeserialize: deserializeDeltaRequest,
    responseSerialize: (r: ReceivedDeltaResponse): Buffer => {
      const bytes = encodeMessage(RES, r.response);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    responseDeserialize: deserializeDeltaResponse,
  },
} satisfies grpc.ServiceDefinition;

/** A generic client class for ADS (`new AdsClient(address, credentials)`). */
export const AdsClient = grpc.makeGenericClientConstructor(
  adsClientDefinition,
  'envoy.service.discovery.v3.AggregatedDiscoveryService',
);

/** Opens a delta ADS stream on any grpc-js client (or channel owner). */
export function openDeltaStream(
  client: grpc.Client,
  metadata?: grpc.Metadata,
  options?: grpc.CallOptions,
): grpc.ClientDuplexStream<DeltaDiscoveryRequest, ReceivedDeltaResponse> {
  return client.makeBidiStreamRequest(
    DELTA_ADS_PATH,
    serializeDeltaRequest,
    deserializeDeltaResponse,
    metadata ?? new grpc.Metadata(),
    options ?? {},
  );
}

const CA_REQ = 'istio.v1.auth.IstioCertificateRequest';
const CA_RES = 'istio.v1.auth.IstioCertificateResponse';

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Istio's CA service (both sides); validityDuration is seconds. */
export const caServiceDefinition = {
  CreateCertificate: {
    path: CREATE_CERTIFICATE_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (r: IstioCertificateRequest): Buffer => toBuffer(encodeMessage(CA_REQ, r)),
    requestDeserialize: (b: Buffer): IstioCertificateRequest =>
      decodeMessage<IstioCertificateRequest>(CA_REQ, b),
    responseSerialize: (r: IstioCertificateResponse): Buffer => toBuffer(encodeMessage(CA_RES, r)),
    responseDeserialize: (b: Buffer): IstioCertificateResponse =>
      decodeMessage<IstioCertificateResponse>(CA_RES, b),
  },
} satisfies grpc.ServiceDefinition;

/** A generic client class for the CA (`new CaClient(address, credentials)`). */
export const CaClient = grpc.makeGenericClientConstructor(
  caServiceDefinition,
  'istio.v1.auth.IstioCertificateService',
);
