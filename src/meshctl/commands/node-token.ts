import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { parsers } from '../../common/config.js';
import { parseSpiffeUri } from '../../pki/spiffe.js';
import { addNodeToken } from '../../istiod/ca/local-tokens.js';
import { parseCommand } from '../options.js';

const USAGE = `Usage: meshctl node-token --node NODE [--token-file FILE] [--identity SPIFFE_ID] [--ttl 24h]

Creates a bootstrap token for the node proxy (ztunnel) of NODE, records its digest in istiod's node
token file (mode 0600; istiod --node-token-file reads it and picks up changes) and prints the token.
Give the token to that node's ztunnel with --token-file. A node proxy may get certificates for its own
identity and, by impersonation, for the identities of pods on its node only.
Example: meshctl node-token --node node-1 > node-1.token && chmod 600 node-1.token`;

const SCHEMA = {
  node: { flag: 'node', doc: 'the node the token is for', default: '', parse: parsers.string },
  tokenFile: {
    flag: 'token-file',
    env: 'NODE_TOKEN_FILE',
    doc: "istiod's node token file",
    default: join(homedir(), '.meshlite', 'istiod', 'node-tokens.json'),
    parse: parsers.string,
  },
  identity: {
    flag: 'identity',
    doc: "the node proxy's own identity",
    default: 'spiffe://cluster.local/ns/istio-system/sa/ztunnel',
    parse: parsers.string,
  },
  ttl: {
    flag: 'ttl',
    doc: 'how long the token is valid (0: no expiry)',
    default: 0,
    parse: parsers.duration,
  },
};

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(USAGE, SCHEMA, argv);
  if (!args) return 0;
  const { node, tokenFile, identity, ttl } = args.config;
  if (!node) {
    process.stderr.write('error: give --node NODE (the node whose ztunnel will use the token)\n');
    return 2;
  }
  const id = parseSpiffeUri(identity);
  if (!id) {
    process.stderr.write(`error: --identity "${identity}" is not spiffe://<trust-domain>/ns/<ns>/sa/<sa>\n`);
    return 2;
  }
  await mkdir(dirname(tokenFile), { recursive: true, mode: 0o700 });
  const token = await addNodeToken(tokenFile, { node, identity: id, ...(ttl > 0 ? { ttlMs: ttl } : {}) });
  process.stdout.write(`${token}\n`);
  process.stderr.write(`node-token: recorded for node ${node} in ${tokenFile}\n`);
  return 0;
}
