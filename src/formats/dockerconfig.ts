/**
 * The `kubernetes.io/dockerconfigjson` format: `{"auths":{"<host>":{username,password,auth}}}`.
 * Pure functions only.
 */
export interface RegistryLogin {
  /** Registry host, no scheme (the key under `auths`). */
  host: string;
  username: string;
  password: string;
}

export interface DockerConfigEntry {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  [other: string]: unknown;
}

export interface DockerConfig {
  auths: Record<string, DockerConfigEntry>;
  [other: string]: unknown;
}

export function dockerConfigEntry(login: RegistryLogin): DockerConfigEntry {
  return {
    username: login.username,
    password: login.password,
    auth: Buffer.from(`${login.username}:${login.password}`, "utf8").toString("base64"),
  };
}

/** A docker config holding one entry per login, keys sorted for a stable serialisation. */
export function buildDockerConfig(logins: readonly RegistryLogin[]): DockerConfig {
  if (logins.length === 0) throw new Error("a docker config needs at least one registry login");
  const auths: Record<string, DockerConfigEntry> = {};
  for (const login of [...logins].sort((a, b) => a.host.localeCompare(b.host))) {
    auths[login.host] = dockerConfigEntry(login);
  }
  return { auths };
}

export function serializeDockerConfig(config: DockerConfig): string {
  return JSON.stringify(config);
}

/**
 * Merges our logins into an existing docker config: our hosts are replaced, every other entry
 * (another team's registry) is kept as it was. Returns a new object.
 */
export function mergeDockerConfig(existing: DockerConfig | undefined, logins: readonly RegistryLogin[]): DockerConfig {
  const ours = buildDockerConfig(logins);
  const merged: DockerConfig = { ...(existing ?? {}), auths: { ...(existing?.auths ?? {}) } };
  for (const [host, entry] of Object.entries(ours.auths)) merged.auths[host] = entry;
  const sorted: Record<string, DockerConfigEntry> = {};
  for (const key of Object.keys(merged.auths).sort()) sorted[key] = merged.auths[key]!;
  merged.auths = sorted;
  return merged;
}

/** What is wrong with a `.dockerconfigjson` document. */
export type DockerConfigProblem = "not-json" | "not-an-object" | "no-auths" | "reserved-key";

/**
 * A `.dockerconfigjson` document the product cannot use. `reserved-key`: a registry key such as
 * `__proto__` under `auths`, which a plain object cannot hold (an assignment would drop it, or
 * change the object's prototype): the Secret is refused whole, never rewritten without it.
 * The message never carries the document's content.
 */
export class DockerConfigError extends Error {
  override readonly name = "DockerConfigError";
  constructor(
    readonly problem: DockerConfigProblem,
    message: string,
  ) {
    super(message);
  }
}

/** Keys under `auths` an object cannot hold as its own data. */
const RESERVED_KEYS = ["__proto__"];

/** Parses a `.dockerconfigjson` document; throws a DockerConfigError without any of its content. */
export function parseDockerConfig(text: string): DockerConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DockerConfigError("not-json", "the docker config is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new DockerConfigError("not-an-object", "the docker config is not a JSON object");
  }
  const auths = (value as { auths?: unknown }).auths;
  if (typeof auths !== "object" || auths === null || Array.isArray(auths)) {
    throw new DockerConfigError("no-auths", 'the docker config has no "auths" object');
  }
  const reserved = RESERVED_KEYS.filter((key) => Object.prototype.hasOwnProperty.call(auths, key) || Object.prototype.hasOwnProperty.call(value, key));
  if (reserved.length > 0) {
    throw new DockerConfigError("reserved-key", `the docker config holds the key ${JSON.stringify(reserved[0])}, which is not a registry: refused`);
  }
  return value as DockerConfig;
}

/** username/password of an entry, honouring `auth` (which overrides both, as the kubelet does). */
export function credentialsOfEntry(entry: DockerConfigEntry): { username: string; password: string } | undefined {
  if (typeof entry.auth === "string" && entry.auth !== "") {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return undefined;
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof entry.username === "string" && typeof entry.password === "string") {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}
