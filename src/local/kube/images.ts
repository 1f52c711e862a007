/**
 * The container images the local kubelet role can run (pure). There is no container runtime here: an
 * image of the project (`<hub>/istiod:<tag>`, `ztunnel`, `waypoint`, `node-agent`, `echo`) runs the
 * project's own executable on the cluster's Node.js, whatever the hub and tag; any other image runs
 * its container's `command` as a host program inside the pod's network namespace (`sleep`, `curl`).
 * A project image's `command: [node, dist/src/<x>.js]` (istio-init) runs that script of this checkout.
 */

/** The image's name without registry, repository path, tag or digest: `meshlite/ztunnel:0.1.0` → `ztunnel`. */
export function imageComponent(image: string): string {
  const noDigest = image.split('@')[0] ?? image;
  const last = noDigest.split('/').pop() ?? noDigest;
  return last.split(':')[0] ?? last;
}

/** Images of the project and the compiled entry point (relative to dist/src) each runs. */
export const PROJECT_IMAGES: Readonly<Record<string, string>> = {
  istiod: 'istiod/main.js',
  ztunnel: 'ztunnel/main.js',
  waypoint: 'waypoint/main.js',
  gateway: 'gateway/main.js',
  sidecar: 'sidecar/main.js',
  'node-agent': 'node-agent/main.js',
  echo: 'local/apps/echo-main.js',
};

/** `own`: how many leading argv items are the project's (node and its script), not the container's. */
export type Entrypoint =
  { ok: true; argv: string[]; own: number } | { ok: false; reason: string; message: string };

/**
 * The program a container runs, as Kubernetes combines image and container: `command` replaces the
 * image's entry point, `args` follow it. A project image's entry point is `node <dist>/<main.js>`.
 */
export function entrypoint(
  c: { image?: string; command?: string[]; args?: string[] },
  nodePath: string,
  distSrc: string,
): Entrypoint {
  const args = c.args ?? [];
  const main = PROJECT_IMAGES[imageComponent(c.image ?? '')];
  const cmd = c.command ?? [];
  // A project image's own Node.js and its compiled tree (the images' WORKDIR holds dist/): `command:
  // [node, dist/src/sidecar/init-main.js]` (istio-init) is that script on the cluster's Node.js.
  const script = /^(?:\.\/|\/meshlite\/)?dist\/src\/(.+\.js)$/.exec(cmd[1] ?? '');
  if (main !== undefined && cmd[0] === 'node' && script)
    return { ok: true, argv: [nodePath, `${distSrc}/${script[1]}`, ...cmd.slice(2), ...args], own: 2 };
  if (cmd.length > 0) return { ok: true, argv: [...cmd, ...args], own: 0 };
  if (main) return { ok: true, argv: [nodePath, `${distSrc}/${main}`, ...args], own: 2 };
  return {
    ok: false,
    reason: 'ErrImagePull',
    message: `image ${JSON.stringify(c.image ?? '')} is not one the local cluster runs (${Object.keys(PROJECT_IMAGES).join(', ')} under any hub), and the container gives no command`,
  };
}

/**
 * The command line to run: the container's own items go through `translate` (variables, mount paths);
 * the project's node binary and script are host paths and stay as they are (a checkout under /tmp must
 * not be read as a container's /tmp mount).
 */
export function containerCommand(
  ep: { argv: string[]; own: number },
  translate: (a: string) => string,
): string[] {
  return ep.argv.map((a, i) => (i < ep.own ? a : translate(a)));
}
