/**
 * On a cluster, the self-signed CA outlives istiod's pod: it is kept in the Secret `istio-ca-secret`
 * of istiod's namespace (Istio's name and keys: ca-cert.pem, ca-key.pem, cert-chain.pem,
 * root-cert.pem). Before the CA opens, the Secret's files are written into the CA directory; a new
 * CA made there is then stored as the Secret. When two istiods race to create it, the loser takes
 * the winner's (409 on create) so every replica signs with one root.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MeshError } from '../../common/errors.js';
import { kubeError, statusOf } from '../config/kube-client.js';
import { writeSecretFile } from './local-tokens.js';
import { CA_FILES, writePublic } from './ca-storage.js';

export const CA_SECRET_NAME = 'istio-ca-secret';
const KEYS = [CA_FILES.cert, CA_FILES.key, CA_FILES.chain, CA_FILES.roots] as const;

export interface CaSecretRef {
  kubeConfig: KubeConfig;
  namespace: string;
  name?: string;
}

/**
 * Writes the Secret's CA files into `dir`. Returns false when there is no such Secret. A Secret
 * that lacks a key is refused with the key named (the CA must not silently change).
 */
export async function restoreCaFromSecret(ref: CaSecretRef, dir: string): Promise<boolean> {
  const name = ref.name ?? CA_SECRET_NAME;
  const core = ref.kubeConfig.makeApiClient(CoreV1Api);
  let data: Record<string, string> | undefined;
  try {
    data = (await core.readNamespacedSecret({ name, namespace: ref.namespace })).data;
  } catch (err) {
    if (statusOf(err) === 404) return false;
    throw kubeError(err, `GET Secret ${ref.namespace}/${name}`);
  }
  const missing = KEYS.filter((k) => !data?.[k]);
  if (missing.length)
    throw new MeshError(
      'CA_ERR_SECRET',
      `Secret ${ref.namespace}/${name} lacks ${missing.join(', ')}; restore it or delete it to make a new root (workloads then re-fetch certificates)`,
    );
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const text = (k: string) => Buffer.from(data![k]!, 'base64').toString('utf8');
  await writeSecretFile(join(dir, CA_FILES.key), text(CA_FILES.key));
  for (const k of [CA_FILES.cert, CA_FILES.chain, CA_FILES.roots]) await writePublic(join(dir, k), text(k));
  return true;
}

/** Stores the CA files of `dir` as the Secret. Returns false when another istiod stored one first. */
export async function storeCaInSecret(ref: CaSecretRef, dir: string): Promise<boolean> {
  const name = ref.name ?? CA_SECRET_NAME;
  const data: Record<string, string> = {};
  for (const k of KEYS) data[k] = (await readFile(join(dir, k))).toString('base64');
  try {
    await ref.kubeConfig.makeApiClient(CoreV1Api).createNamespacedSecret({
      namespace: ref.namespace,
      body: {
        metadata: { name, labels: { 'app.kubernetes.io/part-of': 'meshlite' } },
        type: 'istio.io/ca-root',
        data,
      },
    });
    return true;
  } catch (err) {
    if (statusOf(err) === 409) return false;
    throw kubeError(err, `create Secret ${ref.namespace}/${name}`);
  }
}
