import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
import { MeshError, errorMessage } from '../common/errors.js';

/** The .proto files this layer loads, relative to the proto/ directory. */
export const PROTO_FILES: readonly string[] = [
  'envoy/service/discovery/v3/discovery.proto',
  'istio/workload/workload.proto',
  'istio/security/authorization.proto',
  'istio/v1/auth/ca.proto',
  'meshlite/l7/proxy_config.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
];

/**
 * The proto/ directory: this file runs as dist/src/xds/proto-root.js, so the protos are three levels
 * up. PROTO_DIR overrides it (for installs that move the files).
 */
export function protoDir(): string {
  const fromEnv = process.env.PROTO_DIR;
  if (fromEnv) return fromEnv;
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'proto');
}

let cached: protobuf.Root | undefined;

/**
 * Loads our protos once per process (the Root is immutable after loading). google/protobuf/* imports
 * come from protobufjs's bundled well-known types; everything else from proto/.
 */
export function protoRoot(): protobuf.Root {
  if (cached) return cached;
  const dir = protoDir();
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string =>
    target.startsWith('google/protobuf/') || target.startsWith(dir) ? target : join(dir, target);
  try {
    root.loadSync([...PROTO_FILES], { keepCase: false });
    camelCaseAny(root);
    root.resolveAll();
  } catch (err) {
    throw new MeshError(
      'XDS_ERR_PROTO_LOAD',
      `cannot load the .proto files from ${dir}: ${errorMessage(err)}; check that proto/ ships next to dist/ or set PROTO_DIR`,
      { cause: err },
    );
  }
  cached = root;
  return root;
}

/**
 * protobufjs's bundled google.protobuf.Any keeps the snake_case name `type_url` while every other field
 * is camelCase; rename it to `typeUrl` (same field number, so the wire is unchanged).
 */
function camelCaseAny(root: protobuf.Root): void {
  const any = root.lookupType('google.protobuf.Any');
  const field = any.fields['type_url'];
  if (!field) return;
  any.remove(field);
  any.add(new protobuf.Field('typeUrl', field.id, 'string'));
}

/** A message type by its full name, e.g. `istio.workload.Address`. */
export function messageType(fullName: string): protobuf.Type {
  try {
    return protoRoot().lookupType(fullName);
  } catch (err) {
    throw new MeshError('XDS_ERR_UNKNOWN_TYPE', `no message type ${fullName} in proto/`, { cause: err });
  }
}
