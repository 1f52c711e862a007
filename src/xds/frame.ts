import { messageType } from './proto-root.js';

/**
 * Encoding for the server side, built so that each resource is encoded once per change and never once
 * per client: a Resource (name, version, Any) is encoded to bytes when it changes, and a
 * DeltaDiscoveryResponse is then assembled by concatenating those bytes behind the small header.
 */

/** Encodes one envoy.service.discovery.v3.Resource around already-encoded message bytes. */
export function encodeResource(name: string, version: string, typeUrl: string, body: Uint8Array): Uint8Array {
  const type = messageType('envoy.service.discovery.v3.Resource');
  return type.encode({ name, version, resource: { typeUrl, value: body } }).finish();
}

/** The header fields of a delta response (everything but resources). */
export interface DeltaResponseHeader {
  typeUrl: string;
  nonce: string;
  systemVersionInfo?: string;
  removedResources?: string[];
}

/** Tag of field 2 (resources), wire type 2 (length-delimited). */
const RESOURCES_TAG = (2 << 3) | 2;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, offset: number, n: number): number {
  while (n >= 0x80) {
    buf[offset++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[offset++] = n;
  return offset;
}

/** Size in bytes of a response made of this header and these encoded resources. */
export function deltaResponseSize(headerBytes: number, resources: readonly Uint8Array[]): number {
  let size = headerBytes;
  for (const r of resources) size += 1 + varintSize(r.length) + r.length;
  return size;
}

/** Bytes a resource adds to a response. */
export function framedResourceSize(resource: Uint8Array): number {
  return 1 + varintSize(resource.length) + resource.length;
}

/** Encodes the header of a DeltaDiscoveryResponse (no resources). */
export function encodeDeltaHeader(header: DeltaResponseHeader): Uint8Array {
  const type = messageType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
  return type
    .encode({
      typeUrl: header.typeUrl,
      nonce: header.nonce,
      systemVersionInfo: header.systemVersionInfo ?? '',
      removedResources: header.removedResources ?? [],
    })
    .finish();
}

/** A complete DeltaDiscoveryResponse from a header and pre-encoded Resource messages. */
export function frameDeltaResponse(header: DeltaResponseHeader, resources: readonly Uint8Array[]): Buffer {
  const head = encodeDeltaHeader(header);
  const out = Buffer.allocUnsafe(deltaResponseSize(head.length, resources));
  out.set(head, 0);
  let offset = head.length;
  for (const r of resources) {
    out[offset++] = RESOURCES_TAG;
    offset = writeVarint(out, offset, r.length);
    out.set(r, offset);
    offset += r.length;
  }
  return out;
}
