/**
 * The user a container runs as (pure): `securityContext.runAsUser`/`runAsGroup` of the container, else
 * of the pod. A non-root container is started through `setpriv` with that uid and gid, its
 * `capabilities.add` as ambient capabilities (so `NET_ADMIN` still works after the switch), and
 * `DAC_READ_SEARCH`: there is no mount namespace, so its volumes (the token, the root certificate) are
 * files under the cluster's state directory, which is root's; it may read them, not write them.
 * Root containers run as they are. Istio's proxies run as 1337, and an injected pod's capture rules
 * let that uid's sockets through (the sidecar's connections to istiod carry no mark).
 */

export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  capabilities?: { add?: string[]; drop?: string[] };
}

/** Capability names as Kubernetes spells them (`NET_ADMIN`, `CAP_NET_ADMIN`) → setpriv's (`net_admin`). */
const capName = (c: string): string | undefined => {
  const n = c.trim().toLowerCase().replace(/^cap_/, '');
  return /^[a-z_]+$/.test(n) ? n : undefined;
};

/** The argv prefix that runs a container as its user, or [] for root (or no user given). */
export function runAsPrefix(
  container: SecurityContext | undefined,
  pod: { runAsUser?: number; runAsGroup?: number } | undefined,
): string[] {
  const uid = container?.runAsUser ?? pod?.runAsUser;
  if (uid === undefined || uid === 0) return [];
  const gid = container?.runAsGroup ?? pod?.runAsGroup ?? uid;
  const caps = [
    ...new Set([
      'dac_read_search',
      ...(container?.capabilities?.add ?? []).map(capName).filter((c): c is string => !!c),
    ]),
  ];
  const list = caps.map((c) => `+${c}`).join(',');
  return [
    'setpriv',
    '--reuid',
    String(uid),
    '--regid',
    String(gid),
    '--clear-groups',
    '--inh-caps',
    list,
    '--ambient-caps',
    list,
    '--',
  ];
}
