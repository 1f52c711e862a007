/**
 * TypeScript views of istio.security messages (protobufjs camelCase names; absent = proto3 default;
 * enums are wire numbers).
 */
import type { Extension } from './workload-types.js';

export const AuthorizationScope = { GLOBAL: 0, NAMESPACE: 1, WORKLOAD_SELECTOR: 2 } as const;
export type AuthorizationScope = (typeof AuthorizationScope)[keyof typeof AuthorizationScope];

export const AuthorizationAction = { ALLOW: 0, DENY: 1 } as const;
export type AuthorizationAction = (typeof AuthorizationAction)[keyof typeof AuthorizationAction];

/** One xDS resource of type istio.security.Authorization; resource name `<namespace>/<name>`. */
export interface Authorization {
  name?: string;
  namespace?: string;
  scope?: AuthorizationScope;
  action?: AuthorizationAction;
  /** OR'd. */
  groups?: Group[];
  dryRun?: boolean;
  extensions?: Extension[];
}

export interface Group {
  /** AND'd. */
  rules?: Rules[];
}

export interface Rules {
  /** OR'd. */
  matches?: Match[];
}

/** Fields AND'd, values of a field OR'd; `not*` fields match when none of their values do. */
export interface Match {
  namespaces?: StringMatch[];
  notNamespaces?: StringMatch[];
  principals?: StringMatch[];
  notPrincipals?: StringMatch[];
  sourceIps?: CidrAddress[];
  notSourceIps?: CidrAddress[];
  destinationIps?: CidrAddress[];
  notDestinationIps?: CidrAddress[];
  destinationPorts?: number[];
  notDestinationPorts?: number[];
  serviceAccounts?: ServiceAccountMatch[];
  notServiceAccounts?: ServiceAccountMatch[];
}

/** istio.security.Address: raw IP bytes and a prefix length. */
export interface CidrAddress {
  address?: Uint8Array;
  length?: number;
}

export interface ServiceAccountMatch {
  namespace?: string;
  serviceAccount?: string;
}

/** Exactly one of these; `presence: {}` matches any non-empty value. */
export interface StringMatch {
  exact?: string;
  prefix?: string;
  suffix?: string;
  presence?: Record<string, never>;
}
