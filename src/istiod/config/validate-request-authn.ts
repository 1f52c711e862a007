/**
 * Spec checks for RequestAuthentication (security.istio.io): each jwtRule needs an issuer, at most
 * one of jwks / jwksUri, an inline jwks must be a JSON key set, a jwksUri an http(s) URL.
 */
import { parseDuration } from './duration.js';
import { show, type Fields } from './fields.js';
import { checkPolicyTargets, checkSelector } from './validate-security.js';

type Obj = Record<string, unknown>;

function checkJwks(f: Fields, text: string, path: string): void {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    f.add(path, `is not JSON (${(err as Error).message}); expected a JSON Web Key Set {"keys": [...]}`);
    return;
  }
  const keys = (v as Obj | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    f.add(path, 'must be a JSON Web Key Set with a non-empty "keys" array');
    return;
  }
  keys.forEach((k, i) => {
    if (typeof k !== 'object' || k === null || typeof (k as Obj).kty !== 'string')
      f.add(`${path}.keys[${i}]`, 'every key needs a "kty"');
  });
}

function checkRule(f: Fields, r: Obj, path: string): void {
  f.string(r.issuer, `${path}.issuer`, { required: true, nonEmpty: true });
  f.strings(r.audiences, `${path}.audiences`);
  const uri = f.string(r.jwksUri, `${path}.jwksUri`);
  const jwks = f.string(r.jwks, `${path}.jwks`);
  if (uri !== undefined && jwks !== undefined) f.add(path, 'set jwks or jwksUri, not both');
  if (uri !== undefined && !/^https?:\/\/[^/\s]+/.test(uri))
    f.add(`${path}.jwksUri`, `${show(uri)} is not an http:// or https:// URL`);
  if (jwks !== undefined) checkJwks(f, jwks, `${path}.jwks`);
  f.objects(r.fromHeaders, `${path}.fromHeaders`, (h, hp) => {
    f.string(h.name, `${hp}.name`, { required: true, nonEmpty: true });
    f.string(h.prefix, `${hp}.prefix`);
  });
  f.strings(r.fromParams, `${path}.fromParams`);
  if (r.fromCookies !== undefined)
    f.add(`${path}.fromCookies`, 'is not supported by this mesh yet; use fromHeaders or fromParams');
  f.string(r.outputPayloadToHeader, `${path}.outputPayloadToHeader`);
  f.bool(r.forwardOriginalToken, `${path}.forwardOriginalToken`);
  f.objects(r.outputClaimToHeaders, `${path}.outputClaimToHeaders`, (c, cp) => {
    f.string(c.header, `${cp}.header`, { required: true, nonEmpty: true });
    f.string(c.claim, `${cp}.claim`, { required: true, nonEmpty: true });
  });
  const t = f.string(r.timeout, `${path}.timeout`);
  if (t !== undefined && parseDuration(t) === undefined)
    f.add(`${path}.timeout`, `${show(t)} is not a duration such as 5s or 500ms`);
}

function checkRequestAuthentication(f: Fields, o: Obj): void {
  const spec = f.object(o.spec, 'spec') ?? {};
  if (o.spec === undefined || o.spec === null) o.spec = spec;
  checkPolicyTargets(f, spec, checkSelector(f, spec));
  f.objects(spec.jwtRules, 'spec.jwtRules', (r, p) => checkRule(f, r, p));
}

export const REQUEST_AUTHN_CHECKS: Record<string, (f: Fields, o: Obj) => void> = {
  RequestAuthentication: checkRequestAuthentication,
};
