/**
 * X.509 implementation shoot-out for the mesh's PKI: on one core, how fast can each candidate
 *   - issue a workload leaf certificate (what the istiod CA does per request),
 *   - create a CSR (what every ztunnel/waypoint does per identity and renewal),
 *   - parse and verify a CSR (what the CA does before signing)?
 *
 * Candidates: (a) our own DER encoder/decoder + node:crypto sign/verify (src/pki), (b) @peculiar/x509
 * (pure-JS ASN.1 over WebCrypto), (c) node-forge (pure JS; it has no ECDSA at all, so it can only be
 * measured with RSA-2048, which is what it would have to use).
 *
 * Run: `npx tsc -p . && node dist/bench/pki.js` (about 25 s). Re-runs itself pinned to one CPU with
 * `taskset -c 0` when available, and reports both wall-clock ops/s and ops per CPU-second (all threads
 * of the process, so WebCrypto's thread-pool work is counted too). Prints a table and one JSON line.
 */
import { spawnSync } from 'node:child_process';
import {
  X509Certificate,
  createPublicKey,
  generateKeyPairSync,
  webcrypto,
  type KeyObject,
} from 'node:crypto';
import { fileURLToPath } from 'node:url';
import forge from 'node-forge';
import { createIntermediateCa, createRootCa, issueLeaf } from '../src/pki/ca.js';
import { createCsr, parseCsr } from '../src/pki/csr.js';
import { generateKeyPair } from '../src/pki/keys.js';
import { verifyChain } from '../src/pki/verify.js';
import { certificateInfo } from '../src/pki/x509-parse.js';

const URI = 'spiffe://cluster.local/ns/default/sa/productpage';
const DAY_MS = 24 * 3600 * 1000;
const RUN_MS = Number(process.env.PKI_BENCH_MS ?? 1500);
const WARM_MS = 250;

interface Result {
  case: string;
  impl: string;
  alg: string;
  ops: number;
  opsPerSec: number;
  opsPerCpuSec: number;
  usPerOp: number;
}

type Op = () => unknown;

async function measure(caseName: string, impl: string, alg: string, op: Op): Promise<Result> {
  const run = async (ms: number): Promise<{ n: number; wall: number; cpu: number }> => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < ms) {
      const r = op();
      if (r instanceof Promise) await r;
      n++;
    }
    const wall = performance.now() - t0;
    const c = process.cpuUsage(cpu0);
    return { n, wall, cpu: (c.user + c.system) / 1000 };
  };
  await run(WARM_MS);
  const { n, wall, cpu } = await run(RUN_MS);
  return {
    case: caseName,
    impl,
    alg,
    ops: n,
    opsPerSec: Math.round((n / wall) * 1000),
    opsPerCpuSec: Math.round((n / cpu) * 1000),
    usPerOp: Math.round((wall / n) * 1000),
  };
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`bench self-check failed: ${what}`);
}

async function ownCases(out: Result[]): Promise<void> {
  const root = createRootCa();
  const ca = createIntermediateCa(root);
  const { privateKey, publicKey } = generateKeyPair();
  const leaf = issueLeaf(ca, { publicKey, uris: [URI], validityMs: DAY_MS });
  check(verifyChain([leaf, ...ca.chainPem], [root.rootPem]).ok, 'own leaf verifies');
  out.push(
    await measure('leaf issuance', 'own DER + node:crypto', 'P-256', () =>
      issueLeaf(ca, { publicKey, uris: [URI], validityMs: DAY_MS }),
    ),
  );

  const csr = createCsr({ privateKey, publicKey, uris: [URI] });
  check(parseCsr(csr).signatureValid, 'own CSR verifies');
  out.push(
    await measure('CSR creation', 'own DER + node:crypto', 'P-256', () =>
      createCsr({ privateKey, publicKey: createPublicKey(privateKey), uris: [URI] }),
    ),
  );
  out.push(await measure('CSR parse+verify', 'own DER + node:crypto', 'P-256', () => parseCsr(csr)));
  out.push(
    await measure('CA request (parse+verify CSR, issue)', 'own DER + node:crypto', 'P-256', () => {
      const p = parseCsr(csr);
      return issueLeaf(ca, { publicKey: p.publicKey, uris: p.uris, validityMs: DAY_MS });
    }),
  );
  out.push(await measure('key pair generation', 'node:crypto', 'P-256', () => generateKeyPair()));

  // The same code with an RSA-2048 CA, for a like-for-like comparison with node-forge.
  const rsaRoot = createRootCa({ key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey });
  const rsaLeafKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaCsr = createCsr({ ...rsaLeafKey, uris: [URI] });
  out.push(
    await measure('leaf issuance', 'own DER + node:crypto', 'RSA-2048', () =>
      issueLeaf(rsaRoot, {
        publicKey: createPublicKey(rsaLeafKey.privateKey),
        uris: [URI],
        validityMs: DAY_MS,
      }),
    ),
  );
  out.push(
    await measure('CSR creation', 'own DER + node:crypto', 'RSA-2048', () =>
      createCsr({
        privateKey: rsaLeafKey.privateKey,
        publicKey: createPublicKey(rsaLeafKey.privateKey),
        uris: [URI],
      }),
    ),
  );
  out.push(await measure('CSR parse+verify', 'own DER + node:crypto', 'RSA-2048', () => parseCsr(rsaCsr)));
}

/**
 * @peculiar/x509 needs a `reflect-metadata` polyfill (through tsyringe), which is not among our
 * dependencies; this is the smallest stand-in that lets it load, installed only for this benchmark.
 */
function installReflectMetadataShim(): void {
  const r = Reflect as unknown as Record<string, unknown>;
  if (typeof r.getMetadata === 'function') return;
  const store = new WeakMap<object, Map<unknown, unknown>>();
  const own = (key: unknown, target: object): unknown => store.get(target)?.get(key);
  r.defineMetadata = (key: unknown, value: unknown, target: object): void => {
    let m = store.get(target);
    if (!m) store.set(target, (m = new Map()));
    m.set(key, value);
  };
  r.getOwnMetadata = own;
  r.getMetadata = (key: unknown, target: object): unknown => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t) as object | null) {
      const v = own(key, t);
      if (v !== undefined) return v;
    }
    return undefined;
  };
}

async function peculiarCases(out: Result[]): Promise<void> {
  installReflectMetadataShim();
  const px509 = await import('@peculiar/x509');
  const crypto = webcrypto as unknown as Crypto;
  px509.cryptoProvider.set(crypto);
  const alg = { name: 'ECDSA', namedCurve: 'P-256' };
  const signing = { name: 'ECDSA', hash: 'SHA-256' };
  const caKeys = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const leafKeys = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const caKeyId = Buffer.from(
    await crypto.subtle.digest('SHA-1', await crypto.subtle.exportKey('raw', caKeys.publicKey)),
  ).toString('hex');
  const caCert = await px509.X509CertificateGenerator.createSelfSigned({
    name: 'O=cluster.local, CN=Intermediate CA',
    keys: caKeys,
    signingAlgorithm: signing,
    notAfter: new Date(Date.now() + 3650 * DAY_MS),
    extensions: [
      new px509.BasicConstraintsExtension(true, undefined, true),
      new px509.KeyUsagesExtension(px509.KeyUsageFlags.keyCertSign | px509.KeyUsageFlags.cRLSign, true),
      new px509.SubjectKeyIdentifierExtension(caKeyId),
    ],
  });
  const issue = async (): Promise<string> => {
    const now = Date.now();
    const cert = await px509.X509CertificateGenerator.create({
      issuer: caCert.subject,
      subject: '',
      publicKey: leafKeys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: signing,
      notBefore: new Date(now),
      notAfter: new Date(now + DAY_MS),
      extensions: [
        new px509.BasicConstraintsExtension(false, undefined, true),
        new px509.KeyUsagesExtension(
          px509.KeyUsageFlags.digitalSignature | px509.KeyUsageFlags.keyEncipherment,
          true,
        ),
        new px509.ExtendedKeyUsageExtension([
          px509.ExtendedKeyUsage.serverAuth,
          px509.ExtendedKeyUsage.clientAuth,
        ]),
        new px509.SubjectAlternativeNameExtension([{ type: 'url', value: URI }], true),
        new px509.AuthorityKeyIdentifierExtension(caKeyId),
      ],
    });
    return cert.toString('pem');
  };
  const pem = await issue();
  check(
    new X509Certificate(pem).verify(new X509Certificate(caCert.toString('pem')).publicKey),
    'peculiar leaf verifies',
  );
  out.push(await measure('leaf issuance', '@peculiar/x509 (WebCrypto)', 'P-256', issue));

  const makeCsr = async (): Promise<string> => {
    const req = await px509.Pkcs10CertificateRequestGenerator.create({
      keys: leafKeys,
      signingAlgorithm: signing,
      extensions: [new px509.SubjectAlternativeNameExtension([{ type: 'url', value: URI }], true)],
    });
    return req.toString('pem');
  };
  const csrPem = await makeCsr();
  check(parseCsr(csrPem).signatureValid, 'peculiar CSR verifies with our parser');
  out.push(await measure('CSR creation', '@peculiar/x509 (WebCrypto)', 'P-256', makeCsr));
  const parseVerify = async (): Promise<string[]> => {
    const req = new px509.Pkcs10CertificateRequest(csrPem);
    if (!(await req.verify())) throw new Error('peculiar CSR verify failed');
    const san = req.extensions.find((e) => e instanceof px509.SubjectAlternativeNameExtension);
    return san instanceof px509.SubjectAlternativeNameExtension ? san.names.items.map((n) => n.value) : [];
  };
  check((await parseVerify())[0] === URI, 'peculiar reads the SAN');
  out.push(await measure('CSR parse+verify', '@peculiar/x509 (WebCrypto)', 'P-256', parseVerify));
}

async function forgeCases(results: Result[]): Promise<void> {
  {
    const rsa = (): { priv: forge.pki.rsa.PrivateKey; pub: forge.pki.rsa.PublicKey; node: KeyObject } => {
      const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
      return {
        priv: forge.pki.privateKeyFromPem(
          k.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
        ) as forge.pki.rsa.PrivateKey,
        pub: forge.pki.publicKeyFromPem(
          k.publicKey.export({ type: 'spki', format: 'pem' }) as string,
        ) as forge.pki.rsa.PublicKey,
        node: k.privateKey,
      };
    };
    const caKey = rsa();
    const leafKey = rsa();
    const root = createRootCa({ key: caKey.node, commonName: 'Intermediate CA' });
    const caCert = forge.pki.certificateFromPem(root.certPem);
    const caKeyId = forge.util.binary.raw.encode(certificateInfo(root.cert).keyId);
    const issue = (): string => {
      const cert = forge.pki.createCertificate();
      cert.publicKey = leafKey.pub;
      cert.serialNumber = forge.util.bytesToHex(forge.random.getBytesSync(16)).replace(/^[89a-f]/, '4');
      const now = Date.now();
      cert.validity.notBefore = new Date(now);
      cert.validity.notAfter = new Date(now + DAY_MS);
      cert.setSubject([]);
      cert.setIssuer(caCert.subject.attributes);
      cert.setExtensions([
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 6, value: URI }], critical: true },
        { name: 'authorityKeyIdentifier', keyIdentifier: caKeyId },
      ]);
      cert.sign(caKey.priv, forge.md.sha256.create());
      return forge.pki.certificateToPem(cert);
    };
    const pem = issue();
    check(verifyChain([pem], [root.certPem]).ok, 'forge leaf verifies with our verifier');
    results.push(await measure('leaf issuance', 'node-forge (pure JS)', 'RSA-2048', issue));

    const makeCsr = (): string => {
      const csr = forge.pki.createCertificationRequest();
      csr.publicKey = leafKey.pub;
      csr.setSubject([]);
      csr.setAttributes([
        {
          name: 'extensionRequest',
          extensions: [{ name: 'subjectAltName', critical: true, altNames: [{ type: 6, value: URI }] }],
        },
      ]);
      csr.sign(leafKey.priv, forge.md.sha256.create());
      return forge.pki.certificationRequestToPem(csr);
    };
    const csrPem = makeCsr();
    check(
      parseCsr(csrPem).signatureValid && parseCsr(csrPem).uris[0] === URI,
      'forge CSR verifies with our parser',
    );
    results.push(await measure('CSR creation', 'node-forge (pure JS)', 'RSA-2048', makeCsr));
    results.push(
      await measure('CSR parse+verify', 'node-forge (pure JS)', 'RSA-2048', () => {
        const csr = forge.pki.certificationRequestFromPem(csrPem);
        if (!csr.verify()) throw new Error('forge CSR verify failed');
        return csr.getAttribute({ name: 'extensionRequest' });
      }),
    );
  }
}

function table(results: Result[]): string {
  const head = ['case', 'implementation', 'key', 'ops/s (wall)', 'ops/CPU-s', 'µs/op'];
  const rows = results.map((r) => [
    r.case,
    r.impl,
    r.alg,
    String(r.opsPerSec),
    String(r.opsPerCpuSec),
    String(r.usPerOp),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i >= 3 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  if (!process.env.PKI_BENCH_PINNED) {
    const probe = spawnSync('taskset', ['-c', '0', 'true']);
    if (probe.status === 0) {
      const res = spawnSync('taskset', ['-c', '0', process.execPath, fileURLToPath(import.meta.url)], {
        stdio: 'inherit',
        env: { ...process.env, PKI_BENCH_PINNED: '1', UV_THREADPOOL_SIZE: '1' },
      });
      process.exit(res.status ?? 1);
    }
    console.error('taskset not available: running unpinned; use the ops/CPU-s column');
  }
  const results: Result[] = [];
  await ownCases(results);
  await peculiarCases(results);
  await forgeCases(results);
  console.log(
    `PKI benchmark, node ${process.version}, ${RUN_MS} ms per case, pinned to one CPU: ${process.env.PKI_BENCH_PINNED ? 'yes' : 'no'}`,
  );
  console.log(table(results));
  console.log(JSON.stringify({ bench: 'pki', node: process.version, runMs: RUN_MS, results }));
}

await main();
