/**
 * Ingress gateways' TLS credentials as Envoy SDS `Secret` resources (`kubernetes://<ns>/<secret>`):
 * which ones the published configurations name, their content, and who may have them. A credential
 * goes only to a proxy whose certificate (the mTLS port) names the Secret's namespace, as Istio
 * serves `credentialName` to the gateways of that namespace, or a namespace whose Gateways a
 * ReferenceGrant beside the Secret admits. A client CA bundle is the credential `<name>-cacert`.
 */
import { CA_SUFFIX, clientCaFor, tlsPairOf } from '../config/tls-secret.js';
import type { ConfigStore } from '../config/store.js';
import { CREDENTIAL_PREFIX, type L7Config } from '../../l7/model.js';
import type { SpiffeId } from '../../pki/spiffe.js';
import type { ResourceAccess } from '../xds/delta-server.js';
import { GATEWAY_API_GROUP, type ReferenceGrants } from '../l7/reference-grants.js';

/** `kubernetes://NS/NAME` → namespace and name, or undefined when the name has another form. */
export function parseCredentialName(name: string): { namespace: string; name: string } | undefined {
  if (!name.startsWith(CREDENTIAL_PREFIX)) return undefined;
  const rest = name.slice(CREDENTIAL_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1 || rest.indexOf('/', slash + 1) >= 0) return undefined;
  return { namespace: rest.slice(0, slash), name: rest.slice(slash + 1) };
}

/** The credentials the configurations' TLS ports name, with the SDS message of each usable one. */
export function credentialResources(
  configs: Iterable<L7Config>,
  store: ConfigStore,
): Map<string, { name: string; tlsCertificate?: object; validationContext?: object }> {
  const out = new Map<string, { name: string; tlsCertificate?: object; validationContext?: object }>();
  const lookup = (ns: string, name: string) => store.get('Secret', ns, name);
  for (const cfg of configs)
    for (const svc of cfg.services)
      for (const port of svc.ports)
        for (const c of port.tls?.certificates ?? []) {
          const ca = c.caCredential ? parseCredentialName(c.caCredential) : undefined;
          if (c.caCredential && ca?.name.endsWith(CA_SUFFIX) && !out.has(c.caCredential)) {
            const bundle = clientCaFor(lookup, ca.namespace, ca.name.slice(0, -CA_SUFFIX.length)).pem;
            if (bundle)
              out.set(c.caCredential, {
                name: c.caCredential,
                validationContext: { trustedCa: { inlineBytes: Buffer.from(bundle) } },
              });
          }
          if (out.has(c.credential)) continue;
          const ref = parseCredentialName(c.credential);
          const secret = ref && store.get('Secret', ref.namespace, ref.name);
          const pair = secret ? tlsPairOf(secret).pair : undefined;
          if (!pair) continue;
          out.set(c.credential, {
            name: c.credential,
            tlsCertificate: {
              certificateChain: { inlineBytes: Buffer.from(pair.cert) },
              privateKey: { inlineBytes: Buffer.from(pair.key) },
            },
          });
        }
  return out;
}

/**
 * Who may subscribe to a credential: a mesh identity of this trust domain in the Secret's namespace,
 * or in a namespace whose Gateways a ReferenceGrant beside the Secret lets refer to it.
 */
export function credentialAccess(trustDomain: string, grants: () => ReferenceGrants): ResourceAccess {
  return (name: string, peer: SpiffeId | undefined) => {
    const ref = parseCredentialName(name);
    if (!ref) return `"${name}" is not a credential name (kubernetes://NAMESPACE/SECRET)`;
    if (!peer)
      return `credential ${name} is served only on istiod's mTLS port (15012) to a proxy with a mesh certificate`;
    if (peer.trustDomain !== trustDomain)
      return `credential ${name}: the client is of trust domain ${peer.trustDomain}, not ${trustDomain}`;
    const granted = grants().permits(
      { group: GATEWAY_API_GROUP, kind: 'Gateway', namespace: peer.namespace },
      { group: '', kind: 'Secret', namespace: ref.namespace, name: ref.name },
    );
    if (!granted)
      return `credential ${name} is for proxies of namespace ${ref.namespace} (or of a namespace a ReferenceGrant there names); the client is of ${peer.namespace} (service account ${peer.serviceAccount})`;
    return undefined;
  };
}
