/**
 * The node agent -> ztunnel protocol over a unix socket: JSON lines. The agent (the local cluster's
 * kubelet role) sends every pod of the node with its network namespace, then `snapshot-done`; later
 * `add` and `del` as pods come and go. ztunnel enrolls the ones that are ambient (from istiod's view).
 * ztunnel answers every line in order: `{"ok":true}` once it holds the message, `{"ok":false,
 * "error":...}` for a line it cannot read (the node agent sends one message at a time and waits).
 * The node agent is the local cluster itself, or on Kubernetes the node-agent executable.
 */
export type CaptureMessage =
  | { type: 'add'; namespace: string; name: string; netns: string; healthSource?: string }
  | { type: 'del'; namespace: string; name: string }
  | { type: 'snapshot-done' };

export interface PodNetns {
  netns: string;
  healthSource?: string;
}

/** Parses one line; undefined when it is not a valid message. */
export function parseCaptureMessage(line: string): CaptureMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const m = v as Record<string, unknown>;
  const str = (k: string): string | undefined => (typeof m[k] === 'string' ? (m[k] as string) : undefined);
  if (m.type === 'snapshot-done') return { type: 'snapshot-done' };
  const namespace = str('namespace');
  const name = str('name');
  if (!namespace || !name) return undefined;
  if (m.type === 'del') return { type: 'del', namespace, name };
  const netns = str('netns');
  if (m.type === 'add' && netns && netns.startsWith('/')) {
    const hs = str('healthSource');
    return hs
      ? { type: 'add', namespace, name, netns, healthSource: hs }
      : { type: 'add', namespace, name, netns };
  }
  return undefined;
}
