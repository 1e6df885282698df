/**
 * The rotation half of the configuration: which registries, which secrets, in which region,
 * how they are kept, and the token's timing (TOKEN_MIN_VALIDITY_MINUTES, WRITE_DEBOUNCE_SECONDS).
 * Variables are read in the order of README's configuration table.
 */
import { parseConfiguredRegistry, type RegistryHost } from "../formats/registry-host";
import { checkRegion } from "../formats/region";
import type { EnvReader } from "./env-reader";
import { checkDistinctSecretNames, checkSecretName, readCombinedSecretName } from "./secret-names";
import { readKmsKeyId, readReplicaRegions, readSecretReaders, readSecretTags } from "./secret-policy";
import { DEFAULT_SECRET_NAME, MAX_WRITE_DEBOUNCE_SECONDS, MIN_WRITE_DEBOUNCE_SECONDS, type RotationConfig } from "./types";

export interface RotationReadOptions {
  /** Whether a missing AWS_REGION is a problem (it is unless the run only reads clusters). */
  regionRequired: boolean;
}

/** ECR_REGISTRIES: registry hosts (or account IDs with a region), each in a known region, none twice. */
function readRegistries(reader: EnvReader): { registries: RegistryHost[]; listed: string[] } {
  const registries: RegistryHost[] = [];
  const seen = new Set<string>();
  const listed = reader.list("ECR_REGISTRIES", { noSpaces: true });
  for (const item of listed) {
    try {
      const registry = parseConfiguredRegistry(item);
      const region = checkRegion(registry.region);
      if (!region.ok) {
        reader.problem(`ECR_REGISTRIES: ${registry.host}: ${region.problem}`);
        continue;
      }
      if (seen.has(registry.host)) reader.problem(`ECR_REGISTRIES: ${registry.host} is listed twice`);
      seen.add(registry.host);
      registries.push(registry);
    } catch (error) {
      reader.problem(`ECR_REGISTRIES: ${(error as Error).message}`);
    }
  }
  return { registries, listed };
}

/** AWS_REGION (or AWS_DEFAULT_REGION): the secrets' region and the default registry's. */
function readDefaultRegion(reader: EnvReader, options: RotationReadOptions & { registriesListed: boolean }): string | undefined {
  const regionVariable = reader.string("AWS_REGION") !== undefined ? "AWS_REGION" : "AWS_DEFAULT_REGION";
  const defaultRegion = reader.string("AWS_REGION") ?? reader.string("AWS_DEFAULT_REGION");
  if (defaultRegion !== undefined) {
    const region = checkRegion(defaultRegion);
    if (!region.ok) reader.problem(`${regionVariable}: ${region.problem}`);
  } else if (options.regionRequired) {
    reader.problem(
      options.registriesListed
        ? "AWS_REGION is not set: it is the region of Secrets Manager, where the secrets are written (the Lambda runtime sets it; on a laptop export it, or use --function NAME)"
        : "AWS_REGION is not set: it is the region of the secrets (Secrets Manager) and, with ECR_REGISTRIES empty, of the default registry (the function's own account in AWS_REGION)",
    );
  }
  return defaultRegion;
}

/** WRITE_DEBOUNCE_SECONDS: from MIN_WRITE_DEBOUNCE_SECONDS (the floor, with its reason) to an hour. */
function readWriteDebounce(reader: EnvReader): number {
  const value = reader.raw("WRITE_DEBOUNCE_SECONDS");
  if (value !== undefined && /^\d+$/.test(value) && Number(value) < MIN_WRITE_DEBOUNCE_SECONDS) {
    reader.problem(
      `WRITE_DEBOUNCE_SECONDS=${value}: below the floor of ${MIN_WRITE_DEBOUNCE_SECONDS} seconds: Secrets Manager removes versions only above 100 and never one younger than 24 h, so writing more often than every 10 minutes (an alarm storm) exhausts the secret's versions; inside the window only an operator's force (--force, "force": true) writes`,
    );
    return MIN_WRITE_DEBOUNCE_SECONDS;
  }
  return reader.integer("WRITE_DEBOUNCE_SECONDS", 600, MIN_WRITE_DEBOUNCE_SECONDS, MAX_WRITE_DEBOUNCE_SECONDS);
}

/** Reads the rotation part of the configuration, appending problems to `reader`. */
export function readRotationConfig(reader: EnvReader, options: RotationReadOptions): RotationConfig {
  const { registries, listed } = readRegistries(reader);
  const secretNameTemplate = reader.string("SECRET_NAME", DEFAULT_SECRET_NAME)!;
  checkSecretName(reader, "SECRET_NAME", secretNameTemplate);
  checkDistinctSecretNames(reader, secretNameTemplate, registries);
  const combinedSecretName = readCombinedSecretName(reader, secretNameTemplate, registries);
  const kmsKeyId = readKmsKeyId(reader);
  const defaultRegion = readDefaultRegion(reader, { ...options, registriesListed: listed.length > 0 });
  const secretReaders = readSecretReaders(reader, kmsKeyId);
  const replicaRegions = readReplicaRegions(reader, defaultRegion);
  return {
    registries,
    secretNameTemplate,
    combinedSecretName,
    kmsKeyId,
    secretReaders,
    replicaRegions,
    secretTags: readSecretTags(reader),
    adoptExistingSecret: reader.boolean("ADOPT_EXISTING_SECRET", false),
    minTokenValiditySeconds: reader.integer("TOKEN_MIN_VALIDITY_MINUTES", 60, 0, 11 * 60) * 60,
    writeDebounceSeconds: readWriteDebounce(reader),
    defaultRegion,
  };
}
