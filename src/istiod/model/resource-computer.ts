import { convertAuthorizationPolicy, enforcedByZtunnel, type AuthzConversion } from './authz-convert.js';
import type { ConfigStore } from './config-store.js';
import type { AuthorizationPolicyObj, PodObj } from './inputs.js';
import { hasSelector, isAmbientEnrolled, isHboneSidecar, L, selects } from './labels.js';
import {
  convertPeerAuthentication,
  peerAuthnPolicyNames,
  pickChain,
  staticStrictPolicy,
} from './peer-authn.js';
import {
  buildService,
  buildServiceEntryServices,
  buildServiceEntryWorkloads,
  podServicePorts,
  serviceEntryPorts,
  type BuildContext,
} from './service-builder.js';
import {
  acceptsServices,
  acceptsWorkloads,
  isWaypoint,
  requestedWaypoint,
  waypointAddress,
  waypointFor,
} from './waypoints.js';
import { buildPodWorkload } from './workload-builder.js';
import type { Authorization } from '../../xds/security-types.js';
import type { Address, GatewayAddress, PortList } from '../../xds/workload-types.js';

/** The outputs of one source object, plus the waypoint it asked for (a dependency to watch). */
export interface Computed<T> {
  outputs: Map<string, T>;
  waypointKey?: string;
}

/**
 * Pure computation of xDS resources from the current configuration, one source object at a time.
 * Reads only the store, never previous outputs, so the index may compute in any order.
 */
export class ResourceComputer {
  constructor(
    private readonly store: ConfigStore,
    private readonly ctx: BuildContext,
    readonly rootNamespace: string,
  ) {}

  pod(namespace: string, name: string): Computed<Address> {
    const outputs = new Map<string, Address>();
    const pod = this.store.pods.get(namespace, name);
    if (!pod || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return { outputs };
    const nsLabels = this.store.namespaceLabels(namespace);
    const labels = pod.metadata.labels;
    const enrolled = isAmbientEnrolled(pod, nsLabels);
    const waypointPod = this.isWaypointPod(pod);
    let waypoint: GatewayAddress | undefined;
    let waypointKey: string | undefined;
    if (enrolled && !waypointPod) {
      const req = requestedWaypoint(labels, nsLabels, namespace);
      if (req) {
        waypointKey = req;
        waypoint = this.resolveWaypoint(req, 'workload');
      }
    }
    const workload = buildPodWorkload(pod, this.ctx, {
      enrolled,
      waypointPod,
      sidecar: isHboneSidecar(pod),
      waypoint,
      services: this.podServices(pod, namespace),
      authorizationPolicies: this.podPolicies(namespace, labels),
    });
    outputs.set(workload.uid, { workload });
    return { outputs, waypointKey };
  }

  service(namespace: string, name: string): Computed<Address> {
    const outputs = new Map<string, Address>();
    const svc = this.store.services.get(namespace, name);
    if (!svc) return { outputs };
    let waypoint: GatewayAddress | undefined;
    let waypointKey: string | undefined;
    const ownGateway = this.store.gateways.get(namespace, name);
    if (!(ownGateway && isWaypoint(ownGateway))) {
      const req = requestedWaypoint(svc.metadata.labels, this.store.namespaceLabels(namespace), namespace);
      if (req) {
        waypointKey = req;
        waypoint = this.resolveWaypoint(req, 'service');
      }
    }
    const service = buildService(svc, this.ctx, waypoint);
    outputs.set(`${service.namespace}/${service.hostname}`, { service });
    return { outputs, waypointKey };
  }

  serviceEntry(namespace: string, name: string): Computed<Address> {
    const outputs = new Map<string, Address>();
    const se = this.store.serviceEntries.get(namespace, name);
    if (!se) return { outputs };
    const req = requestedWaypoint(se.metadata.labels, this.store.namespaceLabels(namespace), namespace);
    const waypoint = req ? this.resolveWaypoint(req, 'service') : undefined;
    for (const service of buildServiceEntryServices(se, this.ctx, waypoint)) {
      outputs.set(`${service.namespace}/${service.hostname}`, { service });
    }
    for (const workload of buildServiceEntryWorkloads(se, this.ctx)) outputs.set(workload.uid, { workload });
    return { outputs, waypointKey: req ?? undefined };
  }

  authorizationPolicy(namespace: string, name: string): AuthzConversion {
    const ap = this.store.authorizationPolicies.get(namespace, name);
    return ap ? convertAuthorizationPolicy(ap, this.rootNamespace) : {};
  }

  peerAuthentication(namespace: string, name: string): Authorization | undefined {
    const pa = this.store.peerAuthentications.get(namespace, name);
    if (!pa) return undefined;
    const parents = pickChain(
      this.rootNamespace,
      this.store.peerAuthentications.inNamespace(this.rootNamespace),
      this.store.peerAuthentications.inNamespace(namespace),
      undefined,
    );
    return convertPeerAuthentication(this.rootNamespace, pa, parents);
  }

  /** The mesh's static STRICT policy, present while any PeerAuthentication exists (as Istio does). */
  staticStrict(): Authorization | undefined {
    return this.store.peerAuthentications.size > 0 ? staticStrictPolicy(this.rootNamespace) : undefined;
  }

  /** True when the pod belongs to a waypoint Gateway of its namespace. */
  isWaypointPod(pod: PodObj): boolean {
    const gwName = pod.metadata.labels?.[L.gatewayName] ?? pod.metadata.labels?.[L.istioGatewayName];
    if (!gwName) return false;
    const gw = this.store.gateways.get(pod.metadata.namespace ?? 'default', gwName);
    return gw !== undefined && isWaypoint(gw);
  }

  private resolveWaypoint(key: string, kind: 'service' | 'workload'): GatewayAddress | undefined {
    const slash = key.indexOf('/');
    const ns = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const gw = this.store.gateways.get(ns, name);
    if (!gw || !isWaypoint(gw)) return undefined;
    const f = waypointFor(gw);
    if (kind === 'service' ? !acceptsServices(f) : !acceptsWorkloads(f)) return undefined;
    return waypointAddress(gw, this.store.services.get(ns, name), this.ctx.network, this.ctx.domainSuffix);
  }

  private podServices(pod: PodObj, namespace: string): Record<string, PortList> {
    const out: Record<string, PortList> = {};
    const labels = pod.metadata.labels;
    for (const svc of this.store.services.inNamespace(namespace)) {
      if (!selects(svc.spec?.selector, labels)) continue;
      const hostname = `${svc.metadata.name}.${namespace}.svc.${this.ctx.domainSuffix}`;
      out[`${namespace}/${hostname}`] = { ports: podServicePorts(svc, pod) };
    }
    for (const se of this.store.serviceEntries.inNamespace(namespace)) {
      if (!selects(se.spec.workloadSelector?.labels, labels)) continue;
      for (const host of se.spec.hosts) out[`${namespace}/${host}`] = { ports: serviceEntryPorts(se) };
    }
    return out;
  }

  /** Selector AuthorizationPolicies (own and root namespace) plus the PeerAuthentication-derived ones. */
  private podPolicies(namespace: string, labels: Record<string, string> | undefined): string[] {
    const out: string[] = [];
    const root = this.rootNamespace;
    const collect = (aps: Iterable<AuthorizationPolicyObj>): void => {
      for (const ap of aps) {
        const sel = ap.spec?.selector?.matchLabels;
        if (hasSelector(sel) && selects(sel, labels) && enforcedByZtunnel(ap)) {
          out.push(`${ap.metadata.namespace ?? 'default'}/${ap.metadata.name}`);
        }
      }
    };
    collect(this.store.authorizationPolicies.inNamespace(root));
    if (namespace !== root) collect(this.store.authorizationPolicies.inNamespace(namespace));
    const pas = this.store.peerAuthentications;
    const chain = pickChain(root, pas.inNamespace(root), pas.inNamespace(namespace), labels ?? {});
    out.push(...peerAuthnPolicyNames(root, chain));
    return out.sort();
  }
}
