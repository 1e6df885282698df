/**
 * Configuration from environment variables, validated once. Every bad variable is reported at
 * once in a single ConfigError. The table in README.md documents each variable.
 *
 * This is the folder's entry point: the Config type and its constants (types.ts), the rotation
 * half (rotation-config.ts), the Kubernetes half (kubernetes-config.ts), PROBE_IMAGE, and the
 * warnings for variables that look like the product's but are not read (env-names.ts).
 */
import { ConfigError } from "../shared/errors";
import { parseProbeImage, type ProbeImage } from "../formats/image-reference";
import { unknownVariableWarnings } from "./env-names";
import { EnvReader } from "./env-reader";
import { readKubernetesConfig } from "./kubernetes-config";
import { readRotationConfig } from "./rotation-config";
import type { Config, Env, LoadOptions } from "./types";

export * from "./types";
export { renderSecretName } from "./secret-names";

/** Validates the whole configuration; throws one ConfigError listing every bad variable. */
export function loadConfig(env: Env = process.env, options: LoadOptions = {}): Config {
  const reader = new EnvReader(env);
  const rotation = readRotationConfig(reader, { regionRequired: options.purpose !== "diagnose" });
  const kubernetes = readKubernetesConfig(reader, rotation.defaultRegion);
  const probeImage = readProbeImage(reader);
  const warnings = unknownVariableWarnings(env, [...reader.names]);
  if (reader.problems.length > 0) throw new ConfigError(reader.problems, warnings);
  return { rotation, kubernetes, ...(probeImage ? { probeImage } : {}), ...(warnings.length > 0 ? { warnings } : {}) };
}

/** PROBE_IMAGE (`repository:tag` or `repository@sha256:…`, no host): read by every action, used by the doctor. */
function readProbeImage(reader: EnvReader): ProbeImage | undefined {
  const value = reader.raw("PROBE_IMAGE");
  if (value === undefined) return undefined;
  try {
    return parseProbeImage(value);
  } catch (error) {
    reader.problem(`PROBE_IMAGE: ${(error as Error).message}`);
    return undefined;
  }
}

/** Every variable the configuration reads (the product's variables). */
export function configVariableNames(): string[] {
  const reader = new EnvReader({});
  readKubernetesConfig(reader, readRotationConfig(reader, { regionRequired: false }).defaultRegion);
  readProbeImage(reader);
  return [...reader.names];
}
