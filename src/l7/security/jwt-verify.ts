/**
 * JWT authentication for one service (Envoy's jwt_authn as Istio configures it): the token is taken
 * from the rules' locations (default `Authorization: Bearer`, then `?access_token=`); no token passes
 * on with no principal; a token whose issuer has no rule, a bad signature, an expired or not-yet-valid
 * token gets 401; a token for a rule with audiences that carries none of them gets 403. Success gives
 * the request principal `iss/sub`, the claims, and the header changes the rule asks for.
 */
import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { RequestAuth } from './authz-decide.js';
import { JWT_ALGORITHMS, keyGetter, parseJwks, type JwksCache } from './jwks-cache.js';
import type { JwtHeaderLocation, JwtRule } from './model.js';

export interface CompiledJwtRule {
  rule: JwtRule;
  headers: JwtHeaderLocation[];
  params: string[];
  /** Inline keys, compiled once; undefined for jwksUri rules (the cache has them). */
  inline: JWTVerifyGetKey | undefined;
  /** Set when the inline JWKS could not be read: every token of this issuer fails. */
  inlineError: string | undefined;
}

export interface CompiledJwt {
  rules: CompiledJwtRule[];
  /** Every distinct location to look in. */
  headers: JwtHeaderLocation[];
  params: string[];
  /** Verified tokens (Envoy's jwt cache, 100 entries): a token seen again skips the signature check until it expires. */
  verified: Map<string, { outcome: Extract<JwtOutcome, { kind: 'ok' }>; expMs: number; nbfMs: number }>;
}

/** How many verified tokens a service keeps (Envoy's default jwt_cache_size). */
export const VERIFIED_CACHE_SIZE = 100;
const SKEW_MS = 60_000;

const DEFAULT_HEADERS: JwtHeaderLocation[] = [{ name: 'authorization', prefix: 'Bearer ' }];
const DEFAULT_PARAMS = ['access_token'];

export function compileJwt(rules: readonly JwtRule[]): CompiledJwt | undefined {
  if (rules.length === 0) return undefined;
  const compiled = rules.map((rule): CompiledJwtRule => {
    const explicit = (rule.fromHeaders?.length ?? 0) > 0 || (rule.fromParams?.length ?? 0) > 0;
    let inline: JWTVerifyGetKey | undefined;
    let inlineError: string | undefined;
    if (rule.jwks !== undefined) {
      try {
        inline = keyGetter(parseJwks(rule.jwks));
      } catch (err) {
        inlineError = (err as Error).message;
      }
    }
    return {
      rule,
      headers: explicit
        ? (rule.fromHeaders ?? []).map((h) => ({ name: h.name.toLowerCase(), prefix: h.prefix }))
        : DEFAULT_HEADERS,
      params: explicit ? (rule.fromParams ?? []) : DEFAULT_PARAMS,
      inline,
      inlineError,
    };
  });
  const headers = new Map<string, JwtHeaderLocation>();
  const params = new Set<string>();
  for (const r of compiled) {
    for (const h of r.headers) headers.set(`${h.name}\0${h.prefix ?? ''}`, h);
    for (const p of r.params) params.add(p);
  }
  return { rules: compiled, headers: [...headers.values()], params: [...params], verified: new Map() };
}

export interface TokenFound {
  token: string;
  header?: JwtHeaderLocation;
  param?: string;
}

/** Finds the first token in the configured locations (headers first, then query parameters). */
export function findToken(
  jwt: CompiledJwt,
  header: (name: string) => string | undefined,
  query: string,
): TokenFound | undefined {
  for (const h of jwt.headers) {
    const v = header(h.name);
    if (v === undefined) continue;
    const prefix = h.prefix ?? '';
    if (prefix && !v.toLowerCase().startsWith(prefix.toLowerCase())) continue;
    const token = v.slice(prefix.length).trim();
    if (token) return { token, header: h };
  }
  if (query && jwt.params.length > 0) {
    for (const part of query.split('&')) {
      const eq = part.indexOf('=');
      const name = eq < 0 ? part : part.slice(0, eq);
      if (!jwt.params.includes(name)) continue;
      const token = safeDecode(eq < 0 ? '' : part.slice(eq + 1));
      if (token) return { token, param: name };
    }
  }
  return undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export type JwtOutcome =
  | { kind: 'none' }
  | { kind: 'ok'; auth: RequestAuth; rule: CompiledJwtRule; found: TokenFound; payload: string }
  | { kind: 'denied'; status: 401 | 403; message: string };

/** Envoy's wording for each failure. */
const MSG = {
  malformed: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
  badIssuer: 'Jwt issuer is not configured',
  expired: 'Jwt is expired',
  notYet: 'Jwt not yet valid',
  noKey: "Jwks doesn't have key to match kid or alg from Jwt",
  verify: 'Jwt verification fails',
  audience: 'Audiences in Jwt are not allowed',
  fetch: 'Jwks remote fetch is failed',
  alg: 'Jwt algorithm is not supported',
};

/** Longest token looked at (a larger one is refused without parsing). */
export const MAX_TOKEN_BYTES = 16 * 1024;

export async function verifyRequest(
  jwt: CompiledJwt,
  header: (name: string) => string | undefined,
  query: string,
  cache: JwksCache,
): Promise<JwtOutcome> {
  const found = findToken(jwt, header, query);
  if (!found) return { kind: 'none' };
  const token = found.token;
  if (token.length > MAX_TOKEN_BYTES) return denied(401, MSG.verify);
  const cacheKey = `${found.header ? found.header.name : `?${found.param}`}\0${token}`;
  const hit = jwt.verified.get(cacheKey);
  if (hit) {
    const now = Date.now();
    if (now <= hit.expMs + SKEW_MS && now >= hit.nbfMs - SKEW_MS) return hit.outcome;
    jwt.verified.delete(cacheKey);
  }
  let claims: JWTPayload;
  let alg: string | undefined;
  try {
    alg = decodeProtectedHeader(token).alg;
    claims = decodeJwt(token);
  } catch {
    return denied(401, MSG.malformed);
  }
  if (typeof alg !== 'string' || !JWT_ALGORITHMS.includes(alg)) return denied(401, MSG.alg);
  const rule = jwt.rules.find(
    (r) =>
      r.rule.issuer === claims.iss &&
      (found.header
        ? r.headers.includes(found.header) || sameHeader(r, found.header)
        : r.params.includes(found.param!)),
  );
  if (!rule) return denied(401, MSG.badIssuer);
  let keys = rule.inline;
  if (!keys) {
    if (rule.inlineError !== undefined) return denied(401, MSG.noKey);
    keys = rule.rule.jwksUri ? await cache.get(rule.rule.jwksUri) : undefined;
    if (!keys) return denied(401, MSG.fetch);
  }
  let payload: JWTPayload;
  try {
    payload = (
      await jwtVerify(token, keys, {
        issuer: rule.rule.issuer,
        clockTolerance: 60,
        algorithms: JWT_ALGORITHMS,
      })
    ).payload;
  } catch (err) {
    return denied(401, messageFor(err));
  }
  const aud = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  const want = rule.rule.audiences;
  if (want && want.length > 0 && !aud.some((a) => want.includes(a))) return denied(403, MSG.audience);
  const sub = typeof payload.sub === 'string' ? payload.sub : '';
  const outcome: Extract<JwtOutcome, { kind: 'ok' }> = {
    kind: 'ok',
    rule,
    found,
    payload: token.split('.')[1]!,
    auth: {
      principal: `${payload.iss}/${sub}`,
      audiences: aud,
      presenter: typeof payload.azp === 'string' ? payload.azp : '',
      claims: payload as Record<string, unknown>,
    },
  };
  if (jwt.verified.size >= VERIFIED_CACHE_SIZE) jwt.verified.delete(jwt.verified.keys().next().value!);
  jwt.verified.set(cacheKey, {
    outcome,
    expMs: typeof payload.exp === 'number' ? payload.exp * 1000 : Infinity,
    nbfMs: typeof payload.nbf === 'number' ? payload.nbf * 1000 : 0,
  });
  return outcome;
}

function sameHeader(r: CompiledJwtRule, h: JwtHeaderLocation): boolean {
  return r.headers.some((x) => x.name === h.name && (x.prefix ?? '') === (h.prefix ?? ''));
}

function denied(status: 401 | 403, message: string): JwtOutcome {
  return { kind: 'denied', status, message };
}

function messageFor(err: unknown): string {
  const code = (err as { code?: string }).code;
  const claim = (err as { claim?: string }).claim;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return MSG.expired;
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return claim === 'nbf' ? MSG.notYet : claim === 'iss' ? MSG.badIssuer : MSG.verify;
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return MSG.noKey;
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return MSG.alg;
    default:
      return MSG.verify;
  }
}

/** Claim value as a header value: strings as they are, numbers and booleans as text; else undefined. */
export function claimHeaderValue(claims: Record<string, unknown>, claim: string): string | undefined {
  let v: unknown = claims;
  for (const part of claim.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}
