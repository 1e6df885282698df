/**
 * The Secrets Manager contract that ESO reads (docs/facts.md §3). Pure.
 */
import { buildDockerConfig, serializeDockerConfig } from "../formats/dockerconfig";
import type { RegistryCredential } from "./ecr";

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
 * shape the course's hand-made secret has; for the combined secret: `dockerconfigjson`).
 * The reason never quotes the value.
 */
export function checkStoredValue(text: string, kind: "registry" | "combined"): StoredValueCheck {
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
  return { ok: true, value: record };
}
