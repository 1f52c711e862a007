import { kindInfo } from '../istiod/config/kinds.js';
import type { ConfigObject } from '../istiod/config/types.js';

/** kubectl's way of naming an object in messages: `authorizationpolicy.security.istio.io/deny-all`. */
export function resourceName(obj: ConfigObject): string {
  const group = kindInfo(obj.kind)?.group;
  return `${obj.kind.toLowerCase()}${group ? `.${group}` : ''}/${obj.metadata.name}`;
}
