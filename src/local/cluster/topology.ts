/**
 * Names and addresses of a local cluster (pure). A "fabric" namespace holds a bridge joining the
 * host (istiod) and every node namespace on the node network 10.244.255.0/24 (host .1, node i .(i+1));
 * node i owns the pod range 10.244.i.0/24 (.1 is the node side of every pod link); Service VIPs come
 * from 10.96.0.0/16.
 */
export const NODE_NET = '10.244.255';
export const HOST_IP = `${NODE_NET}.1`;
/** Every pod address (node i: 10.244.i.0/24) and the fabric. */
export const POD_RANGE = '10.244.0.0/16';
/** Service VIPs (manifests.ts assigns them). */
export const SERVICE_RANGE = '10.96.0.0/16';

export interface NodeInfo {
  name: string;
  index: number;
  netns: string;
  ip: string;
  podCidr: string;
  podGateway: string;
}

export interface PodInfo {
  namespace: string;
  name: string;
  node: string;
  netns: string;
  ip: string;
  /** Link name on the node side. */
  hostLink: string;
  deployment?: string;
}

export const fabricNetns = (prefix: string): string => `${prefix}-fabric`;
export const hostLink = (prefix: string): string => `${prefix}-h`;

export function nodeInfo(prefix: string, index: number): NodeInfo {
  return {
    name: `node-${index}`,
    index,
    netns: `${prefix}-node-${index}`,
    ip: `${NODE_NET}.${index + 1}`,
    podCidr: `10.244.${index}.0/24`,
    podGateway: `10.244.${index}.1`,
  };
}

/** Pod `slot` (2..254) on a node. */
export function podAddress(node: NodeInfo, slot: number): string {
  return `10.244.${node.index}.${slot}`;
}

export function podNetns(prefix: string, node: NodeInfo, namespace: string, name: string): string {
  return `${prefix}-n${node.index}-${namespace}-${name}`.slice(0, 64);
}

export function checkPrefix(prefix: string): string {
  if (!/^[a-z][a-z0-9]{0,9}$/.test(prefix))
    throw new Error(`cluster name ${JSON.stringify(prefix)}: use 1-10 lowercase letters and digits`);
  return prefix;
}
