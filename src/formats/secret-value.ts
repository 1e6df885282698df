/**
 * The Secrets Manager value ESO reads (README, "The Secrets Manager format"): one codec for every
 * reader and writer. A registry secret's `SecretString` is
 *   {"registry_url","auth_token","username","proxy_endpoint","expires_at","dockerconfigjson"}
 * (plus `withdrawn` when the ECR Public entry was withdrawn), the combined secret's is
 *   {"registries","expires_at","dockerconfigjson"}
 * in that key order. Pure.
 *
 * Reading is tolerant where the product always was: a registry value needs only `registry_url`
 * and `auth_token` strings (the shape a hand-made secret commonly has), a combined one only
 * `dockerconfigjson`; any other documented property of the wrong type reads as absent. A refusal
 * is a typed problem naming the field, never a value that could be secret.
 */
import { array, object, safeParse, string, type ZodMiniType } from "zod/mini";
import { isPlausibleExpiry } from "./ecr-token";

/** The properties of a registry secret, in the documented order. */
export const REGISTRY_VALUE_KEYS = ["registry_url", "auth_token", "username", "proxy_endpoint", "expires_at", "dockerconfigjson"] as const;
/** The properties of the combined secret, in the documented order. */
export const COMBINED_VALUE_KEYS = ["registries", "expires_at", "dockerconfigjson"] as const;

export type SecretKind = "registry" | "combined";

/** What the product writes for one registry. */
export interface RegistrySecretValue {
  /** The registry host exactly as in image references: no scheme, no path. */
  registry_url: string;
  /** The password part of the decoded ECR token. */
  auth_token: string;
  username: string;
  proxy_endpoint: string;
  /** ISO-8601 UTC with milliseconds. */
  expires_at: string;
  /** A `kubernetes.io/dockerconfigjson` document, as a string. */
  dockerconfigjson: string;
  /** Only on a withdrawn ECR Public entry: which registry and why (no secret material). */
  withdrawn?: string;
}

/** What the product writes to the combined secret (COMBINED_SECRET_NAME). */
export interface CombinedSecretValue {
  /** Every registry in the docker config, sorted. */
  registries: string[];
  /** The earliest expiry of them all. */
  expires_at: string;
  dockerconfigjson: string;
}

export type SecretValue = RegistrySecretValue | CombinedSecretValue;

/** A registry secret as read back: only `registry_url` and `auth_token` are certain. */
export type StoredRegistryValue = Pick<RegistrySecretValue, "registry_url" | "auth_token"> & Partial<Omit<RegistrySecretValue, "registry_url" | "auth_token">>;

/** The combined secret as read back: only `dockerconfigjson` is certain. */
export type StoredCombinedValue = Pick<CombinedSecretValue, "dockerconfigjson"> & Partial<Omit<CombinedSecretValue, "dockerconfigjson">>;

/** A stored value read as the kind of secret it is stored for. */
export type StoredSecret<K extends SecretKind = SecretKind> = K extends "registry"
  ? { kind: "registry"; value: StoredRegistryValue }
  : { kind: "combined"; value: StoredCombinedValue };

/** Which field a refusal is about. */
export type SecretValueField = (typeof REGISTRY_VALUE_KEYS)[number] | (typeof COMBINED_VALUE_KEYS)[number];

/** Why a stored value is not the product's (none of them carries a value that could be secret). */
export type SecretValueProblem =
  | { code: "not-json" }
  | { code: "not-object" }
  /** Required string properties that are absent or not strings, in the documented order. */
  | { code: "missing-fields"; fields: SecretValueField[] }
  /** `registry_url` names another registry; `found` is the host, or only its length when it does not look like one. */
  | { code: "other-registry"; field: "registry_url"; expected: string; found: { host: string } | { length: number } };

export type SecretValueParse<K extends SecretKind = SecretKind> = { ok: true; stored: StoredSecret<K> } | { ok: false; problem: SecretValueProblem };

/** A schema for every property of a value (the compiler keeps FIELDS and the interfaces in step). */
type SchemaOf<T> = { [K in keyof T]-?: ZodMiniType<NonNullable<T[K]>> };

/** Each kind's properties in the documented order, with the schema of each. */
const FIELDS = {
  registry: {
    registry_url: string(),
    auth_token: string(),
    username: string(),
    proxy_endpoint: string(),
    expires_at: string(),
    dockerconfigjson: string(),
    withdrawn: string(),
  } satisfies SchemaOf<RegistrySecretValue>,
  combined: { registries: array(string()), expires_at: string(), dockerconfigjson: string() } satisfies SchemaOf<CombinedSecretValue>,
} as const;

/** What a stored value must hold to be the product's (the rest is optional). */
const REQUIRED = {
  registry: object({ registry_url: FIELDS.registry.registry_url, auth_token: FIELDS.registry.auth_token }),
  combined: object({ dockerconfigjson: FIELDS.combined.dockerconfigjson }),
} as const;

/** A `registry_url` is shown only when it looks like a host name (it could be a pasted token). */
const HOST_LIKE = /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/;

/**
 * The kind's properties of a JSON value: a refusal when it is no object or lacks a required one
 * (the schema's issues name the fields, never their values); an optional property of the wrong
 * type reads as absent, as the product always read it (each one parsed alone: zod's `catch`
 * would add about 10 KB to the handler bundle).
 */
function readFields(kind: SecretKind, json: unknown): { ok: true; value: Record<string, unknown> } | { ok: false; problem: SecretValueProblem } {
  const required = safeParse(REQUIRED[kind], json);
  if (!required.success) {
    const paths = required.error.issues.map((issue) => issue.path);
    if (paths.some((path) => path.length === 0)) return { ok: false, problem: { code: "not-object" } };
    const failing = new Set(paths.map((path) => path[0]));
    const fields = Object.keys(REQUIRED[kind].def.shape).filter((field) => failing.has(field)) as SecretValueField[];
    return { ok: false, problem: { code: "missing-fields", fields } };
  }
  const record = json as Record<string, unknown>;
  const value: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(FIELDS[kind])) {
    const field = safeParse(schema as ZodMiniType, record[key]);
    if (field.success && field.data !== undefined) value[key] = field.data;
  }
  return { ok: true, value };
}

function parseRegistry(json: unknown, registryHost: string | undefined): SecretValueParse<"registry"> {
  const read = readFields("registry", json);
  if (!read.ok) return read;
  const value = read.value as StoredRegistryValue;
  const withdrawn = value.registry_url === "" && value.withdrawn !== undefined;
  if (registryHost !== undefined && value.registry_url !== registryHost && !withdrawn) {
    const url = value.registry_url;
    const found = HOST_LIKE.test(url) ? { host: url } : { length: url.length };
    return { ok: false, problem: { code: "other-registry", field: "registry_url", expected: registryHost, found } };
  }
  return { ok: true, stored: { kind: "registry", value } };
}

function parseCombined(json: unknown): SecretValueParse<"combined"> {
  const read = readFields("combined", json);
  return read.ok ? { ok: true, stored: { kind: "combined", value: read.value as StoredCombinedValue } } : read;
}

/**
 * Parses a stored `SecretString` as a secret of `kind`. For a registry secret with
 * `registryHost`, `registry_url` must name that registry — except on a withdrawn entry (empty
 * `registry_url` with `withdrawn`), which may be refilled.
 */
export function parseSecretValue<K extends SecretKind>(text: string, kind: K, registryHost?: string): SecretValueParse<K> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, problem: { code: "not-json" } };
  }
  return (kind === "registry" ? parseRegistry(json, registryHost) : parseCombined(json)) as SecretValueParse<K>;
}

/** The refusal's words for a problem (quotes a `registry_url` only when it looks like a host). */
export function describeSecretValueProblem(problem: SecretValueProblem): string {
  switch (problem.code) {
    case "not-json":
      return "its current value is not JSON";
    case "not-object":
      return "its current value is not a JSON object";
    case "missing-fields":
      return `its current value lacks the string propert${problem.fields.length > 1 ? "ies" : "y"} ${problem.fields.join(", ")}`;
    case "other-registry": {
      const shown = "host" in problem.found ? JSON.stringify(problem.found.host) : `a value of ${problem.found.length} characters`;
      return `its registry_url is ${shown}, not ${problem.expected}, the registry it is stored for`;
    }
  }
}

/**
 * The expiry a stored value declares (`expires_at`), or undefined when it has none that parses.
 * Given `now`, an expiry further ahead than an ECR token can have (isPlausibleExpiry: its 12 h
 * lifetime plus the clock-skew margin) reads as none too: a tampered or hand-made value is
 * never believed valid for longer than a real token.
 */
export function storedExpiry(value: { expires_at?: string | undefined }, now?: Date): Date | undefined {
  if (value.expires_at === undefined) return undefined;
  const date = new Date(value.expires_at);
  if (Number.isNaN(date.getTime())) return undefined;
  return now === undefined || isPlausibleExpiry(date, now) ? date : undefined;
}

function isCombined(value: SecretValue): value is CombinedSecretValue {
  return "registries" in value;
}

/** The `SecretString` of a value: its documented keys in the documented order, nothing else. */
export function encodeSecretValue(value: SecretValue): string {
  if (isCombined(value)) {
    return JSON.stringify({ registries: value.registries, expires_at: value.expires_at, dockerconfigjson: value.dockerconfigjson });
  }
  const ordered: Record<string, string> = {};
  for (const key of REGISTRY_VALUE_KEYS) ordered[key] = value[key];
  if (value.withdrawn !== undefined) ordered.withdrawn = value.withdrawn;
  return JSON.stringify(ordered);
}

/** Which kind of secret a value is written as. */
export function secretKindOf(value: SecretValue): SecretKind {
  return isCombined(value) ? "combined" : "registry";
}
