import { createHash } from 'node:crypto';
import { encodeMessage } from '../../xds/codec.js';
import { encodeResource } from '../../xds/frame.js';
import { messageNameOf } from '../../xds/type-urls.js';

/** A resource as the server holds it: encoded once per change, shared by every connection. */
export interface StoredResource {
  name: string;
  version: string;
  /** The encoded envoy.service.discovery.v3.Resource (name, version, Any). */
  encoded: Uint8Array;
}

/** A set of changes from the control plane. `message` is a plain object or its encoded bytes. */
export interface ResourceChanges {
  upserts: Array<{ name: string; message: object | Uint8Array }>;
  removals: string[];
}

/**
 * All resources of one type URL. `apply` encodes each changed resource once and names it by content
 * (the version is a hash of the bytes), so an upsert with unchanged content is not a change at all.
 */
export class ResourceStore {
  readonly typeUrl: string;
  private readonly messageName: string;
  private readonly entries = new Map<string, StoredResource>();

  constructor(typeUrl: string) {
    this.typeUrl = typeUrl;
    this.messageName = messageNameOf(typeUrl);
  }

  /** Applies changes; returns the names that really changed (content differs, or removed). */
  apply(changes: ResourceChanges): string[] {
    const changed: string[] = [];
    for (const { name, message } of changes.upserts) {
      const body = message instanceof Uint8Array ? message : encodeMessage(this.messageName, message);
      const version = createHash('sha256').update(body).digest('base64url').slice(0, 16);
      if (this.entries.get(name)?.version === version) continue;
      this.entries.set(name, {
        name,
        version,
        encoded: encodeResource(name, version, this.typeUrl, body),
      });
      changed.push(name);
    }
    for (const name of changes.removals) {
      if (this.entries.delete(name)) changed.push(name);
    }
    return changed;
  }

  get(name: string): StoredResource | undefined {
    return this.entries.get(name);
  }

  names(): IterableIterator<string> {
    return this.entries.keys();
  }

  get size(): number {
    return this.entries.size;
  }
}
