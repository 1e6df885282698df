/**
 * Configuration from environment variables, validated once. Every bad variable is reported at
 * once in a single ConfigError. The table in README.md documents each variable.
 */
import { ConfigError } from "./errors";
import { parseRegistryHost, type RegistryHost } from "./registry-host";

export const OWNERSHIP_TAG_KEY = "ecr-token-rotator:managed";
export const OWNERSHIP_TAG_VALUE = "true";
export const DEFAULT_SECRET_NAME = "ecr/{account}/{region}/credentials";

export interface RotationConfig {
  /** Registries to keep fresh; empty = the function's own account in `defaultRegion`. */
  registries: RegistryHost[];
  /** Secrets Manager secret name; may hold `{account}` and `{region}`. */
  secretNameTemplate: string;
  combinedSecretName: string | undefined;
  kmsKeyId: string | undefined;
  secretTags: Record<string, string>;
  adoptExistingSecret: boolean;
  /** A token with less validity than this is refused. */
  minTokenValiditySeconds: number;
  /** No new secret version when the stored one is younger than this (unless forced). */
  writeDebounceSeconds: number;
  /** Region of the function (AWS_REGION), used for the default registry. */
  defaultRegion: string | undefined;
}

type Env = Record<string, string | undefined>;

const SECRET_NAME_CHARS = /^[A-Za-z0-9/_+=.@{}-]+$/;
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

/** Collects problems while reading variables, so all of them are reported together. */
export class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const value = this.env[name];
    if (value === undefined) return undefined;
    const trimmed = value.trim();
    return trimmed === "" ? undefined : trimmed;
  }

  string(name: string, fallback?: string): string | undefined {
    return this.raw(name) ?? fallback;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (/^(true|1|yes)$/i.test(value)) return true;
    if (/^(false|0|no)$/i.test(value)) return false;
    this.problems.push(`${name}=${JSON.stringify(value)}: expected true or false`);
    return fallback;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      this.problems.push(`${name}=${JSON.stringify(value)}: expected a whole number from ${min} to ${max}`);
      return fallback;
    }
    return Number(value);
  }

  list(name: string): string[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    return value.split(",").map((item) => item.trim()).filter((item) => item !== "");
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.problems.push(`${name}=${JSON.stringify(value)}: expected one of ${allowed.join(", ")}`);
    return fallback;
  }

  problem(message: string): void {
    this.problems.push(message);
  }
}

export function renderSecretName(template: string, registry: Pick<RegistryHost, "accountId" | "region">): string {
  return template.replaceAll("{account}", registry.accountId).replaceAll("{region}", registry.region);
}

function parseTags(reader: EnvReader): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const item of reader.list("SECRET_TAGS")) {
    const eq = item.indexOf("=");
    const key = eq < 0 ? item : item.slice(0, eq).trim();
    const value = eq < 0 ? "" : item.slice(eq + 1).trim();
    if (eq < 0 || !TAG_KEY.test(key) || !TAG_VALUE.test(value)) {
      reader.problem(`SECRET_TAGS: ${JSON.stringify(item)} is not a valid key=value tag`);
      continue;
    }
    if (key.toLowerCase().startsWith("aws:")) {
      reader.problem(`SECRET_TAGS: tag key ${JSON.stringify(key)} uses the reserved aws: prefix`);
      continue;
    }
    if (key === OWNERSHIP_TAG_KEY) {
      reader.problem(`SECRET_TAGS: ${OWNERSHIP_TAG_KEY} is set by the product itself`);
      continue;
    }
    tags[key] = value;
  }
  return tags;
}

function checkSecretName(reader: EnvReader, variable: string, name: string): void {
  if (name.length > 512 || !SECRET_NAME_CHARS.test(name)) {
    reader.problem(`${variable}=${JSON.stringify(name)}: a secret name has 1-512 of the characters A-Z a-z 0-9 / _ + = . @ -`);
  }
  const unknown = name.match(/\{[^}]*\}/g)?.filter((p) => p !== "{account}" && p !== "{region}") ?? [];
  if (unknown.length > 0) reader.problem(`${variable}: unknown placeholder ${unknown.join(", ")} (only {account} and {region})`);
}

/** Reads the rotation part of the configuration, appending problems to `reader`. */
export function readRotationConfig(reader: EnvReader): RotationConfig {
  const registries: RegistryHost[] = [];
  const seen = new Set<string>();
  const listed = reader.list("ECR_REGISTRIES");
  for (const item of listed) {
    try {
      const registry = parseRegistryHost(item);
      if (seen.has(registry.host)) reader.problem(`ECR_REGISTRIES: ${registry.host} is listed twice`);
      seen.add(registry.host);
      registries.push(registry);
    } catch (error) {
      reader.problem(`ECR_REGISTRIES: ${(error as Error).message}`);
    }
  }

  const secretNameTemplate = reader.string("SECRET_NAME", DEFAULT_SECRET_NAME)!;
  checkSecretName(reader, "SECRET_NAME", secretNameTemplate);
  if (registries.length > 1) {
    const names = new Map<string, string>();
    for (const registry of registries) {
      const name = renderSecretName(secretNameTemplate, registry);
      const other = names.get(name);
      if (other !== undefined) {
        reader.problem(
          `SECRET_NAME=${JSON.stringify(secretNameTemplate)} gives ${other} and ${registry.host} the same secret ${JSON.stringify(name)}: ` +
            "with several registries it must contain {account} and/or {region}, e.g. ecr/{account}/{region}/credentials",
        );
        break;
      }
      names.set(name, registry.host);
    }
  }

  const combinedSecretName = reader.string("COMBINED_SECRET_NAME");
  if (combinedSecretName !== undefined) {
    checkSecretName(reader, "COMBINED_SECRET_NAME", combinedSecretName);
    if (/[{}]/.test(combinedSecretName)) reader.problem("COMBINED_SECRET_NAME: placeholders are not allowed in the combined secret's name");
  }

  const kmsKeyId = reader.string("KMS_KEY_ID");
  if (kmsKeyId !== undefined && !/^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/.+|alias\/.+|[0-9a-f-]{36}|mrk-[0-9a-f]{32})$/.test(kmsKeyId)) {
    reader.problem(`KMS_KEY_ID=${JSON.stringify(kmsKeyId)}: expected a key ARN, key id, alias/NAME or alias ARN`);
  }

  const defaultRegion = reader.string("AWS_REGION") ?? reader.string("AWS_DEFAULT_REGION");
  if (listed.length === 0 && defaultRegion === undefined) {
    reader.problem("ECR_REGISTRIES is empty and AWS_REGION is not set: set one of them (the default registry is the function's own account in AWS_REGION)");
  }

  return {
    registries,
    secretNameTemplate,
    combinedSecretName,
    kmsKeyId,
    secretTags: parseTags(reader),
    adoptExistingSecret: reader.boolean("ADOPT_EXISTING_SECRET", false),
    minTokenValiditySeconds: reader.integer("TOKEN_MIN_VALIDITY_MINUTES", 60, 0, 11 * 60) * 60,
    writeDebounceSeconds: reader.integer("WRITE_DEBOUNCE_SECONDS", 600, 0, 86_400),
    defaultRegion,
  };
}

export interface Config {
  rotation: RotationConfig;
}

/** Validates the whole configuration; throws one ConfigError listing every bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const reader = new EnvReader(env);
  const rotation = readRotationConfig(reader);
  if (reader.problems.length > 0) throw new ConfigError(reader.problems);
  return { rotation };
}
