import { isAmbiguous, kindIdOf, kindInfoById, type KindInfo } from '../istiod/config/kinds.js';
import type { ConfigObject } from '../istiod/config/types.js';

/** kubectl's way of naming an object in messages: `authorizationpolicy.security.istio.io/deny-all`. */
export function resourceName(obj: ConfigObject): string {
  const id = kindIdOf(obj);
  const group = id ? kindInfoById(id)?.group : undefined;
  return `${obj.kind.toLowerCase()}${group ? `.${group}` : ''}/${obj.metadata.name}`;
}

/** How messages name a kind: `Service`, or `Gateway.networking.istio.io` where two groups share it. */
export function kindLabel(info: KindInfo): string {
  return isAmbiguous(info) ? `${info.kind}.${info.group}` : info.kind;
}
