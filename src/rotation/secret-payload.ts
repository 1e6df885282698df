/**
 * The Secrets Manager contract that ESO reads (docs/facts.md §3). Pure.
 */
import { buildDockerConfig, serializeDockerConfig } from "../formats/dockerconfig";
import type { RegistryCredential } from "./ecr";
import { ECR_PUBLIC_HOST } from "../formats/registry-host";

export interface RegistrySecretValue {
  registry_url: string;
  auth_token: string;
  username: string;
  proxy_endpoint: string;
  expires_at: string;
  dockerconfigjson: string;
}

export interface CombinedSecretValue {
  registries: string[];
  expires_at: string;
  dockerconfigjson: string;
}

export function registrySecretValue(credential: RegistryCredential): RegistrySecretValue {
  return {
    registry_url: credential.registry.host,
    auth_token: credential.password,
    username: credential.username,
    proxy_endpoint: credential.proxyEndpoint,
    expires_at: credential.expiresAt.toISOString(),
    dockerconfigjson: serializeDockerConfig(
      buildDockerConfig([{ host: credential.registry.host, username: credential.username, password: credential.password }]),
    ),
  };
}

/**
 * The value of the public.ecr.aws secret after its refresh failed: the ESO contract's shape with
 * no credential, so whatever ESO renders lets pulls from ECR Public go anonymous — the
 * `dockerconfigjson` property has no entry, and a template built from `registry_url` +
 * `auth_token` renders its entry under the empty key, which matches no image. `withdrawn` says
 * which registry and why (no secret material).
 */
export function withdrawnPublicValue(reason: string): RegistrySecretValue & { withdrawn: string } {
  return {
    registry_url: "",
    auth_token: "",
    username: "",
    proxy_endpoint: "",
    expires_at: "",
    dockerconfigjson: serializeDockerConfig({ auths: {} }),
    withdrawn: `${ECR_PUBLIC_HOST}: ${reason}`,
  };
}

export function combinedSecretValue(credentials: readonly RegistryCredential[]): CombinedSecretValue {
  const earliest = Math.min(...credentials.map((c) => c.expiresAt.getTime()));
  return {
    registries: credentials.map((c) => c.registry.host).sort(),
    expires_at: new Date(earliest).toISOString(),
    dockerconfigjson: serializeDockerConfig(buildDockerConfig(credentials.map((c) => ({ host: c.registry.host, username: c.username, password: c.password })))),
  };
}

export type StoredValueCheck = { ok: true; value: Record<string, unknown> } | { ok: false; reason: string };

/**
 * Is a stored SecretString something the product may overwrite? It must be a JSON object in the
 * product's shape (for a registry secret: `registry_url` and `auth_token` strings — also the
 * shape the course's hand-made secret has — and `registry_url` must be the registry the secret
 * is stored for; for the combined secret: `dockerconfigjson`). The reason never quotes a value
 * that could be secret (a `registry_url` is quoted only when it looks like a host name).
 */
export function checkStoredValue(text: string, kind: "registry" | "combined", registryHost?: string): StoredValueCheck {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: "its current value is not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, reason: "its current value is not a JSON object" };
  const record = value as Record<string, unknown>;
  const required = kind === "registry" ? ["registry_url", "auth_token"] : ["dockerconfigjson"];
  const missing = required.filter((key) => typeof record[key] !== "string");
  if (missing.length > 0) return { ok: false, reason: `its current value lacks the string propert${missing.length > 1 ? "ies" : "y"} ${missing.join(", ")}` };
  // An empty registry_url is a withdrawn entry (ECR Public whose refresh failed): it may be refilled.
  const withdrawn = record.registry_url === "" && typeof record.withdrawn === "string";
  if (kind === "registry" && registryHost !== undefined && record.registry_url !== registryHost && !withdrawn) {
    const url = record.registry_url as string;
    const shown = /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/.test(url) ? JSON.stringify(url) : `a value of ${url.length} characters`;
    return { ok: false, reason: `its registry_url is ${shown}, not ${registryHost}, the registry it is stored for` };
  }
  return { ok: true, value: record };
}

/** The expiry a stored value declares (`expires_at`), or undefined when it has none that parses. */
export function storedExpiry(value: Record<string, unknown>): Date | undefined {
  if (typeof value.expires_at !== "string") return undefined;
  const date = new Date(value.expires_at);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
