import type protobuf from 'protobufjs';
import { MeshError, errorMessage } from '../common/errors.js';
import { messageType } from './proto-root.js';
import { TYPE_URL_PREFIX, messageNameOf } from './type-urls.js';
import type { AnyMessage } from './discovery-types.js';

/** How decoded messages are turned into plain objects: numbers for enums and 64-bit ints. */
const TO_OBJECT: protobuf.IConversionOptions = {
  longs: Number,
  enums: Number,
  arrays: true,
  objects: true,
  defaults: false,
};

/**
 * Encodes a plain object (camelCase fields, see *-types.ts) as the named message. Unknown fields are
 * dropped; enum names given as strings are accepted.
 */
export function encodeMessage(fullName: string, value: object): Uint8Array {
  const type = messageType(fullName);
  try {
    return type.encode(type.fromObject(value as Record<string, unknown>)).finish();
  } catch (err) {
    throw new MeshError('XDS_ERR_ENCODE', `cannot encode ${fullName}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/** Decodes bytes as the named message into a plain object. Throws XDS_ERR_DECODE on bad bytes. */
export function decodeMessage<T>(fullName: string, bytes: Uint8Array): T {
  const type = messageType(fullName);
  try {
    return type.toObject(type.decode(bytes), TO_OBJECT) as T;
  } catch (err) {
    throw new MeshError('XDS_ERR_DECODE', `cannot decode ${fullName}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/**
 * Decodes without the copy into plain objects: the result is protobufjs's message instance, whose unset
 * fields read as proto3 defaults from its prototype. Faster for large envelopes (a response with
 * thousands of resources); do not use where 64-bit integers or enum names matter.
 */
export function decodeMessageFast<T>(fullName: string, bytes: Uint8Array): T {
  const type = messageType(fullName);
  try {
    return type.decode(bytes) as unknown as T;
  } catch (err) {
    throw new MeshError('XDS_ERR_DECODE', `cannot decode ${fullName}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/** Wraps encoded bytes of a message in a google.protobuf.Any. */
export function packAny(typeUrl: string, value: Uint8Array): AnyMessage {
  return { typeUrl, value };
}

/** Encodes a message and wraps it in an Any whose type URL names it. */
export function toAny(fullName: string, value: object): AnyMessage {
  return packAny(TYPE_URL_PREFIX + fullName, encodeMessage(fullName, value));
}

/**
 * Decodes the message inside an Any. When `expectedTypeUrl` is given, a different type URL is an
 * XDS_ERR_TYPE_MISMATCH error.
 */
export function fromAny<T>(any: AnyMessage, expectedTypeUrl?: string): T {
  const typeUrl = any.typeUrl ?? '';
  if (expectedTypeUrl !== undefined && typeUrl !== expectedTypeUrl) {
    throw new MeshError(
      'XDS_ERR_TYPE_MISMATCH',
      `resource has type ${typeUrl || '(none)'} but ${expectedTypeUrl} was expected`,
    );
  }
  return decodeMessage<T>(messageNameOf(typeUrl), any.value ?? new Uint8Array(0));
}
