/**
 * Why is this container stuck pulling its image? Pure: takes what was read from the cluster
 * (already reduced — no password, no `auth`, no docker config is ever passed in) and returns the
 * causes, each with a code, a message and a hint for the operator.
 *
 * Matching follows the kubelet's keyring (docs/facts.md §4): scheme stripped, `/v1/`/`/v2/` ignored,
 * same number of dot labels compared with a glob per label, the port must match exactly, and a
 * key's path must be a prefix of the image's path. The kubelet tries EVERY matching credential,
 * so a cause about the credential (expired) is only claimed when it holds for all of them.
 */
import { scrub } from "../shared/redact-text";
import { tryParseRegistryHost } from "../formats/registry-host";
import type { Cause, StuckContainer } from "../report/report";

export type { Cause, CauseCode } from "../report/report";

/** One `auths` entry, reduced: the key (a registry host/URL), who, and when its ECR password expires. */
export interface ReducedEntry {
  key: string;
  username?: string;
  /** Expiry embedded in an ECR password; undefined when the password has another shape. */
  expiresAt?: Date;
}

/** A referenced pull Secret, reduced to what a diagnosis needs. */
export interface ReducedSecret {
  name: string;
  exists: boolean;
  type?: string;
  entries: ReducedEntry[];
  /** Why the content could not be read (not JSON, no `auths`); nothing of the content itself. */
  invalid?: string;
}

/** A stuck container with everything read about it. */
export interface StuckContainerInput extends StuckContainer {
  /** `spec.serviceAccountName` (undefined = `default`). */
  serviceAccountName?: string;
  /** `spec.imagePullSecrets` names of the pod. */
  podPullSecrets: string[];
  /** The ServiceAccount's `imagePullSecrets` now; undefined when the SA was not found or not read. */
  serviceAccountPullSecrets?: string[];
  /** The pod's referenced Secrets, reduced (same order as podPullSecrets). */
  secrets: ReducedSecret[];
  /** Recent event messages about this pod (newest last). */
  events: string[];
  /** Registry hosts this deployment keeps fresh (ECR_REGISTRIES). */
  configuredHosts: string[];
  /** The pull secret the product writes (PULL_SECRET_NAME). */
  pullSecretName?: string;
  now: Date;
}

/** Tokens expiring within this are treated as expired (pulls take time; clocks drift). */
export const EXPIRY_MARGIN_MS = 5 * 60_000;

const ACCEPTED_TYPES = ["kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg"];

/** Messages that say the credential was refused (these win over "not found"-like phrases). */
const AUTH_FAILURE = /\b(401|403)\b|unauthori[sz]ed|authoriz|authenticat|no basic auth credentials|denied|forbidden|insufficient_scope|expired/i;
/** Messages that point at the image reference or the network, not the credential. */
const NOT_CREDENTIAL =
  /manifest unknown|manifest for .* not found|: not found|\bnot found\b|InvalidImageName|invalid reference format|couldn't parse image|no such host|name unknown|repository name must|i\/o timeout|connection refused|network is unreachable|dial tcp/i;

interface ParsedRef {
  host: string;
  port: string;
  path: string;
}

/** `[scheme://]host[:port][/path]` → parts; lower-case host; `/v1/`, `/v2/` mean no path. */
function parseKey(key: string): ParsedRef {
  let rest = key.trim().replace(/^https?:\/\//i, "");
  rest = rest.replace(/\/v[12]\/?$/, "");
  const slash = rest.indexOf("/");
  const hostPort = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? "" : rest.slice(slash + 1).replace(/\/+$/, "");
  const colon = hostPort.lastIndexOf(":");
  const host = (colon < 0 ? hostPort : hostPort.slice(0, colon)).toLowerCase();
  const port = colon < 0 ? "" : hostPort.slice(colon + 1);
  return { host: host === "index.docker.io" || host === "registry-1.docker.io" ? "docker.io" : host, port, path };
}

/** An image reference → registry host, port and repository path (tag/digest removed). */
export function parseImage(image: string): ParsedRef {
  let ref = image.trim();
  const at = ref.indexOf("@");
  if (at >= 0) ref = ref.slice(0, at);
  const firstSlash = ref.indexOf("/");
  let hostPort = "docker.io";
  let path = ref;
  if (firstSlash >= 0) {
    const candidate = ref.slice(0, firstSlash);
    if (candidate.includes(".") || candidate.includes(":") || candidate === "localhost") {
      hostPort = candidate;
      path = ref.slice(firstSlash + 1);
    }
  }
  const lastColon = path.lastIndexOf(":");
  if (lastColon >= 0 && !path.slice(lastColon).includes("/")) path = path.slice(0, lastColon);
  if (hostPort === "docker.io" && !path.includes("/")) path = `library/${path}`;
  const colon = hostPort.lastIndexOf(":");
  const host = (colon < 0 ? hostPort : hostPort.slice(0, colon)).toLowerCase();
  return { host, port: colon < 0 ? "" : hostPort.slice(colon + 1), path };
}

/** Go's filepath.Match for one label (`*`, `?`, `[...]`), no separators involved. */
function globLabel(pattern: string, label: string): boolean {
  if (!/[*?[]/.test(pattern)) return pattern === label;
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += "[^.]*";
    else if (c === "?") re += "[^.]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) return false;
      let set = pattern.slice(i + 1, end);
      if (set.startsWith("^")) set = `^${set.slice(1)}`;
      re += `[${set.replace(/\\/g, "\\\\")}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  try {
    return new RegExp(`^${re}$`).test(label);
  } catch {
    return false;
  }
}

/** Does a docker config key match an image, by the kubelet's keyring rules? */
export function keyMatchesImage(key: string, image: string): boolean {
  const k = parseKey(key);
  const i = parseImage(image);
  if (k.port !== i.port) return false;
  const kl = k.host.split(".");
  const il = i.host.split(".");
  if (kl.length !== il.length) return false;
  if (!kl.every((label, n) => globLabel(label, il[n]!))) return false;
  if (k.path === "") return true;
  return i.path === k.path || i.path.startsWith(`${k.path}/`) || i.path.startsWith(k.path);
}

const clean = (text: string | undefined): string => scrub((text ?? "").replace(/\s+/g, " ").trim());

function isDefaultSa(name: string | undefined): boolean {
  return name === undefined || name === "" || name === "default";
}

/** The causes for one stuck container; never empty. Steps 1–2 end the diagnosis when they hold. */
export function classifyStuckContainer(input: StuckContainerInput): Cause[] {
  // 1. The image reference or the network, not the token.
  const notCredential = notACredentialProblem(input);
  if (notCredential) return [notCredential];
  // 2. No imagePullSecrets on the pod.
  if (input.podPullSecrets.length === 0) return [noImagePullSecrets(input)];
  // 3. The referenced Secrets themselves.
  const { causes, usable } = secretProblems(input);
  // 4. Does any entry match the image's registry?
  const image = parseImage(input.image);
  const imageHostPort = image.port ? `${image.host}:${image.port}` : image.host;
  const entries = usable.flatMap((s) => s.entries.map((e) => ({ secret: s.name, entry: e })));
  const matching = entries.filter(({ entry }) => keyMatchesImage(entry.key, input.image));
  if (usable.length > 0 && matching.length === 0) causes.push(registryMismatch(input, usable.length, entries, imageHostPort));
  // 5. Every matching credential carries an ECR expiry that has passed (or is about to).
  const expired = matching.length > 0 ? tokenExpired(input, matching, imageHostPort) : undefined;
  if (expired) causes.push(expired);
  if (causes.length === 0) causes.push(unknownCause(input, imageHostPort));
  return causes;
}

type MatchedEntry = { secret: string; entry: ReducedEntry };

/** 1. The kubelet's texts point at the image reference or the network (and not at a refused credential). */
function notACredentialProblem(input: StuckContainerInput): Cause | undefined {
  const all = [input.message ?? "", ...input.events].join("\n");
  if (!(input.reason === "InvalidImageName" || (NOT_CREDENTIAL.test(all) && !AUTH_FAILURE.test(all)))) return undefined;
  return {
    code: "not-a-credential-problem",
    message: `the image reference or the network is at fault, not the pull credential: ${clean([input.message ?? "", ...[...input.events].reverse()].find((t) => NOT_CREDENTIAL.test(t)) || input.message || input.reason)}`,
    hint: "check the image name, tag or digest (does it exist in the repository?) and that the node can resolve and reach the registry; rotating or healing will not help",
  };
}

/** 2. The pod has no imagePullSecrets: the default-ServiceAccount trap, or a pod created before its SA got one. */
function noImagePullSecrets(input: StuckContainerInput): Cause {
  const sa = input.serviceAccountName || "default";
  const saHas = input.serviceAccountPullSecrets ?? [];
  const later = saHas.length > 0;
  const saText = later
    ? `ServiceAccount "${sa}" now lists ${saHas.join(", ")}, but pods copy imagePullSecrets at admission: this pod was created before that`
    : input.serviceAccountPullSecrets === undefined
      ? `ServiceAccount "${sa}" was not found`
      : `ServiceAccount "${sa}" has no imagePullSecrets either`;
  if (isDefaultSa(input.serviceAccountName)) {
    return {
      code: "default-service-account-trap",
      message: `the pod runs as ServiceAccount "default" and has no imagePullSecrets; ${saText}`,
      hint: later
        ? "recreate the pod (e.g. kubectl rollout restart of its Deployment) so admission copies the ServiceAccount's pull secret"
        : `set PATCH_SERVICE_ACCOUNTS=default (the product adds ${input.pullSecretName ?? "its pull secret"} to the ServiceAccount on heal), run heal, then recreate the pod`,
    };
  }
  return {
    code: "no-image-pull-secrets",
    message: `the pod has no imagePullSecrets; ${saText}`,
    hint: later
      ? "recreate the pod so admission copies the ServiceAccount's pull secret"
      : `add the pull secret to the pod spec, or add "${sa}" to PATCH_SERVICE_ACCOUNTS, run heal, then recreate the pod`,
  };
}

/** 3. Referenced Secrets that are missing, of the wrong type or unreadable; the others are usable. */
function secretProblems(input: StuckContainerInput): { causes: Cause[]; usable: ReducedSecret[] } {
  const pullSecretName = input.pullSecretName;
  const causes: Cause[] = [];
  const usable: ReducedSecret[] = [];
  for (const secret of input.secrets) {
    if (!secret.exists) {
      causes.push({
        code: "pull-secret-not-found",
        message: `imagePullSecret "${secret.name}" does not exist in namespace ${input.namespace}`,
        hint:
          pullSecretName !== undefined && secret.name === pullSecretName
            ? `run heal with this namespace among the targets (TARGET_NAMESPACES) so the product creates ${secret.name}`
            : `create the Secret or fix the name in the pod spec${pullSecretName !== undefined ? ` (the product writes "${pullSecretName}")` : ""}`,
      });
    } else if (!ACCEPTED_TYPES.includes(secret.type ?? "")) {
      causes.push({
        code: "wrong-secret-type",
        message: `imagePullSecret "${secret.name}" has type ${secret.type || "Opaque"}; the kubelet only reads kubernetes.io/dockerconfigjson (or the legacy kubernetes.io/dockercfg)`,
        hint: "recreate it as type kubernetes.io/dockerconfigjson with a .dockerconfigjson key (the type of a Secret cannot be changed in place)",
      });
    } else if (secret.invalid !== undefined) {
      causes.push({
        code: "invalid-pull-secret",
        message: `imagePullSecret "${secret.name}" cannot be read as a docker config: ${secret.invalid}`,
        hint: 'rewrite its content: {"auths":{"<registry host>":{"username":…,"password":…,"auth":…}}}',
      });
    } else usable.push(secret);
  }
  return { causes, usable };
}

/** 4. No entry matches the image's registry: the same ECR account in another region, or another registry. */
function registryMismatch(input: StuckContainerInput, usableCount: number, entries: MatchedEntry[], imageHostPort: string): Cause {
  const keys = [...new Set(entries.map(({ entry }) => parseKey(entry.key).host + (parseKey(entry.key).port ? `:${parseKey(entry.key).port}` : "")))];
  const ecrImage = tryParseRegistryHost(imageHostPort);
  const otherRegions = ecrImage
    ? keys.map((k) => tryParseRegistryHost(k)).filter((h) => h !== undefined && h.accountId === ecrImage.accountId && h.region !== ecrImage.region)
    : [];
  const configured = input.configuredHosts.includes(imageHostPort);
  if (ecrImage && otherRegions.length > 0) {
    return {
      code: "wrong-region",
      message: `the image is in ${ecrImage.region} (${imageHostPort}) but the pull secret only holds account ${ecrImage.accountId}'s registry in ${[...new Set(otherRegions.map((h) => h!.region))].join(", ")}; ECR tokens are per region`,
      hint: configured
        ? "run heal so the pull secret gets the entry for this region"
        : `add ${imageHostPort} to ECR_REGISTRIES (one token per region), then run heal`,
    };
  }
  return {
    code: "registry-host-mismatch",
    message: `no entry of the pull secret${usableCount > 1 ? "s" : ""} matches the image's registry ${imageHostPort} (entries: ${keys.join(", ") || "none"})`,
    hint: configured
      ? "run heal so the pull secret gets an entry for this registry"
      : `add ${imageHostPort} to ECR_REGISTRIES if it is an ECR registry this deployment should serve, or give the pod a pull secret for it`,
  };
}

/** 5. Every matching credential's embedded ECR expiry has passed or falls within EXPIRY_MARGIN_MS. */
function tokenExpired(input: StuckContainerInput, matching: MatchedEntry[], imageHostPort: string): Cause | undefined {
  const limit = input.now.getTime() + EXPIRY_MARGIN_MS;
  const expired = matching.filter(({ entry }) => entry.expiresAt !== undefined && entry.expiresAt.getTime() <= limit);
  if (expired.length !== matching.length) return undefined;
  const latest = new Date(Math.max(...expired.map(({ entry }) => entry.expiresAt!.getTime())));
  const past = latest.getTime() <= input.now.getTime();
  return {
    code: "token-expired",
    message: `the ECR token in ${[...new Set(expired.map((e) => `"${e.secret}"`))].join(", ")} for ${imageHostPort} ${past ? "expired" : "expires"} at ${latest.toISOString()}`,
    hint:
      input.pullSecretName !== undefined && expired.every((e) => e.secret === input.pullSecretName)
        ? "run heal (fresh token into Secrets Manager and this Secret); the kubelet retries the pull by itself"
        : "this Secret is not refreshed by the product: have ESO re-sync it (refreshInterval ≤ 1 h, force-sync) or point the pod at the product's pull secret, then wait for the kubelet to retry",
  };
}

/** Nothing found: the pull secrets look right, so the kubelet's own message is the lead. */
function unknownCause(input: StuckContainerInput, imageHostPort: string): Cause {
  return {
    code: "unknown",
    message: `stuck in ${input.reason}, but the pull secret${input.secrets.length > 1 ? "s look" : " looks"} right for ${imageHostPort}; kubelet says: ${clean(input.message || input.events.at(-1) || "(no message)")}`,
    hint: "read the kubelet's message: a 403 usually means the token's IAM principal lacks ecr:BatchGetImage / the repository policy does not grant it; otherwise kubectl describe pod",
  };
}
