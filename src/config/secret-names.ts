/**
 * The Secrets Manager names the configuration gives: SECRET_NAME (a template with `{account}`
 * and `{region}`) rendered per registry, and the rules between names — one secret per registry,
 * the combined secret distinct from every per-registry one.
 */
import type { RegistryHost } from "../formats/registry-host";
import type { EnvReader } from "./env-reader";

const SECRET_NAME_CHARS = /^[A-Za-z0-9/_+=.@{}-]+$/;

export function renderSecretName(template: string, registry: Pick<RegistryHost, "accountId" | "region">): string {
  return template.replaceAll("{account}", registry.accountId).replaceAll("{region}", registry.region);
}

/** The characters and placeholders of one secret name (or template) read from `variable`. */
export function checkSecretName(reader: EnvReader, variable: string, name: string): void {
  if (name.length > 512 || !SECRET_NAME_CHARS.test(name)) {
    reader.problem(`${variable}=${JSON.stringify(name)}: a secret name has 1-512 of the characters A-Z a-z 0-9 / _ + = . @ -`);
  }
  const unknown = name.match(/\{[^}]*\}/g)?.filter((p) => p !== "{account}" && p !== "{region}") ?? [];
  if (unknown.length > 0) reader.problem(`${variable}: unknown placeholder ${unknown.join(", ")} (only {account} and {region})`);
}

/** With several registries, SECRET_NAME must give each its own secret (the first clash is reported). */
export function checkDistinctSecretNames(reader: EnvReader, template: string, registries: readonly RegistryHost[]): void {
  if (registries.length <= 1) return;
  const names = new Map<string, string>();
  for (const registry of registries) {
    const name = renderSecretName(template, registry);
    const other = names.get(name);
    if (other !== undefined) {
      reader.problem(
        `SECRET_NAME=${JSON.stringify(template)} gives ${other} and ${registry.host} the same secret ${JSON.stringify(name)}: ` +
          "with several registries it must contain {account} and/or {region}, e.g. ecr/{account}/{region}/credentials",
      );
      return;
    }
    names.set(name, registry.host);
  }
}

/** COMBINED_SECRET_NAME: a plain name (no placeholders) that is no registry's own secret. */
export function readCombinedSecretName(reader: EnvReader, template: string, registries: readonly RegistryHost[]): string | undefined {
  const combinedSecretName = reader.string("COMBINED_SECRET_NAME");
  if (combinedSecretName === undefined) return undefined;
  checkSecretName(reader, "COMBINED_SECRET_NAME", combinedSecretName);
  if (/[{}]/.test(combinedSecretName)) reader.problem("COMBINED_SECRET_NAME: placeholders are not allowed in the combined secret's name");
  const clash = registries.find((r) => renderSecretName(template, r) === combinedSecretName);
  if (clash !== undefined || (registries.length === 0 && !/[{}]/.test(template) && template === combinedSecretName)) {
    reader.problem(
      `COMBINED_SECRET_NAME=${JSON.stringify(combinedSecretName)} is also the secret of ${clash?.host ?? "the default registry"} (SECRET_NAME): one secret cannot hold both formats`,
    );
  }
  return combinedSecretName;
}

/**
 * With ECR_REGISTRIES unset the default registry (the function's own account) is known only at
 * run time: the problem when COMBINED_SECRET_NAME is its rendered SECRET_NAME (the combined
 * write would replace the registry secret ESO reads), else undefined. Checked before any write.
 */
export function combinedSecretClash(
  template: string,
  combinedSecretName: string | undefined,
  registry: Pick<RegistryHost, "accountId" | "region" | "host">,
): string | undefined {
  if (combinedSecretName === undefined || renderSecretName(template, registry) !== combinedSecretName) return undefined;
  return `COMBINED_SECRET_NAME=${JSON.stringify(combinedSecretName)} is also the secret of the default registry ${registry.host} (SECRET_NAME=${JSON.stringify(template)}): one secret cannot hold both formats; nothing was written`;
}
