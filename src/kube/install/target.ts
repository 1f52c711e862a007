/**
 * Which Kubernetes the manifests are rendered for. The shipped files target current Kubernetes
 * (1.29+); older API servers (the 1.20 control plane built here for tests) get the variants they
 * serve: PodDisruptionBudget policy/v1beta1 before 1.21, DaemonSet rolling updates without maxSurge
 * before 1.22, CRDs without CEL rules before 1.25.
 */
import { MeshError } from '../../common/errors.js';

export interface KubeTarget {
  major: number;
  minor: number;
}

export const CURRENT_TARGET: KubeTarget = { major: 1, minor: 29 };

/** "1.20", "v1.20.2" or the API server's /version fields ("1", "20+"). */
export function parseKubeVersion(text: string, minorText?: string): KubeTarget {
  const m = minorText === undefined ? /^v?(\d+)\.(\d+)/.exec(text.trim()) : [text, text, minorText];
  const major = m ? parseInt(m[1]!, 10) : NaN;
  const minor = m ? parseInt(m[2]!, 10) : NaN;
  if (!Number.isInteger(major) || !Number.isInteger(minor))
    throw new MeshError('KUBE_ERR_VERSION', `"${text}" is not a Kubernetes version; expected e.g. 1.29`);
  return { major, minor };
}

export function atLeast(t: KubeTarget, minor: number): boolean {
  return t.major > 1 || t.minor >= minor;
}

/** policy/v1 PodDisruptionBudget is served from 1.21. */
export const pdbApiVersion = (t: KubeTarget): string => (atLeast(t, 21) ? 'policy/v1' : 'policy/v1beta1');
/** CRD validation rules (x-kubernetes-validations, CEL) from 1.25 (beta, on by default). */
export const celInCrds = (t: KubeTarget): boolean => atLeast(t, 25);
/** DaemonSet `rollingUpdate.maxSurge` (surge a new pod before the old one goes) from 1.22. */
export const daemonSetSurge = (t: KubeTarget): boolean => atLeast(t, 22);
