/**
 * A lazy reader of envoy.service.discovery.v3.DeltaDiscoveryResponse bytes for the benchmark's clients:
 * it walks the protobuf wire format and reads only the type URL, the nonce, each resource's name and
 * version, and the removed names. The resources' Any payloads are skipped (a client would decode one
 * when it needs it). Field numbers: response type_url=4, nonce=5, resources=2, removed_resources=6;
 * Resource version=1, name=3.
 */

export interface ScannedResponse {
  typeUrl: string;
  nonce: string;
  /** name -> version of each resource sent. */
  resources: Array<[string, string]>;
  removed: string[];
}

function readVarint(buf: Buffer, pos: { at: number }): number {
  let result = 0;
  let shift = 1;
  for (;;) {
    const b = buf[pos.at++];
    if (b === undefined) throw new Error('truncated varint');
    result += (b & 0x7f) * shift;
    if (b < 0x80) return result;
    shift *= 128;
  }
}

/** Skips one field's value of this wire type; returns [start, end) for length-delimited ones. */
function skip(buf: Buffer, pos: { at: number }, wireType: number): [number, number] {
  switch (wireType) {
    case 0:
      readVarint(buf, pos);
      return [pos.at, pos.at];
    case 1:
      pos.at += 8;
      return [pos.at, pos.at];
    case 2: {
      const len = readVarint(buf, pos);
      const start = pos.at;
      pos.at += len;
      return [start, pos.at];
    }
    case 5:
      pos.at += 4;
      return [pos.at, pos.at];
    default:
      throw new Error(`unsupported wire type ${wireType}`);
  }
}

function scanResource(buf: Buffer, start: number, end: number): [string, string] {
  const pos = { at: start };
  let name = '';
  let version = '';
  while (pos.at < end) {
    const tag = readVarint(buf, pos);
    const [s, e] = skip(buf, pos, tag & 7);
    const field = tag >>> 3;
    if (field === 1) version = buf.toString('latin1', s, e);
    else if (field === 3) name = buf.toString('latin1', s, e);
  }
  return [name, version];
}

export function scanDeltaResponse(buf: Buffer): ScannedResponse {
  const out: ScannedResponse = { typeUrl: '', nonce: '', resources: [], removed: [] };
  const pos = { at: 0 };
  while (pos.at < buf.length) {
    const tag = readVarint(buf, pos);
    const [s, e] = skip(buf, pos, tag & 7);
    switch (tag >>> 3) {
      case 2:
        out.resources.push(scanResource(buf, s, e));
        break;
      case 4:
        out.typeUrl = buf.toString('latin1', s, e);
        break;
      case 5:
        out.nonce = buf.toString('latin1', s, e);
        break;
      case 6:
        out.removed.push(buf.toString('latin1', s, e));
        break;
    }
  }
  return out;
}
