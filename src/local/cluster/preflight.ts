/**
 * What the local cluster needs: root, `ip`, `nft`, and the native addon.
 */
import { runCommand } from '../netns/index.js';
import { nativeStatus } from '../../native/index.js';

export async function preflight(): Promise<{ ok: boolean; missing: string[] }> {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (run with sudo)');
  for (const [cmd, pkg] of [
    ['ip', 'iproute2'],
    ['nft', 'nftables'],
  ] as const) {
    await runCommand(cmd, ['-V']).catch(() => missing.push(`\`${cmd}\` (apt-get install ${pkg})`));
  }
  const n = nativeStatus();
  if (!n.available) missing.push(`the native addon (${n.reason ?? 'not built'}; run node native/build.mjs)`);
  return { ok: missing.length === 0, missing };
}
