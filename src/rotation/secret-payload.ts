/**
 * The values the product writes to Secrets Manager, built from ECR credentials; their format
 * (parse and encode) is formats/secret-value.ts. Pure.
 */
import { buildDockerConfig, serializeDockerConfig } from "../formats/dockerconfig";
import type { RegistryCredential } from "./ecr";
import { ECR_PUBLIC_HOST } from "../formats/registry-host";
import type { CombinedSecretValue, RegistrySecretValue } from "../formats/secret-value";

export type { CombinedSecretValue, RegistrySecretValue } from "../formats/secret-value";

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
