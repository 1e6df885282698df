/**
 * The kubelet's pull error, read: which text carries it, what it says, and how to quote it.
 * Pure functions over strings; no I/O. The formats: docs/facts.md §7.
 *
 * Where the error is (kubelet pkg/kubelet/images/image_manager.go): per failing pull the kubelet
 * emits `Pulling`, `Failed` "Failed to pull image \"X\": <error>", `Failed` "Error: ErrImagePull",
 * `BackOff` "Back-off pulling image \"X\"", `Failed` "Error: ImagePullBackOff" — so the newest
 * `Failed` event is often the one without the error. The container's waiting message carries the
 * error itself while in `ErrImagePull`, and (kubelet ≥ 1.32) in `ImagePullBackOff` too, as
 * `Back-off pulling image "X": ErrImagePull: <error>`.
 *
 * What the error says (formats as containerd, Docker and the registries write them):
 * - containerd: `failed to pull and unpack image "X": failed to resolve reference "X": …`,
 *   `unexpected status from HEAD request to https://…/manifests/T: 403 Forbidden`, or
 *   `unexpected status code https://…: 429 Too Many Requests - Server message: toomanyrequests: …`;
 * - ECR denials: `denied: User: arn:aws:sts::A:assumed-role/R/S is not authorized to perform:
 *   ecr:BatchGetImage on resource: arn:aws:ecr:REGION:A:repository/NAME because no
 *   resource-based policy allows the ecr:BatchGetImage action` (the standard AWS authorization
 *   text; identity-based / explicit-deny variants alike);
 * - Docker Hub: `toomanyrequests: You have reached your pull rate limit. …`;
 * - a repository that does not exist: `name unknown: The repository with name 'N' does not exist
 *   in the registry with id 'A'`.
 *
 * Quoting: only credentials are removed (URL userinfo, bearer/basic credentials, signed-URL
 * query parameters, `token`/`password`/`auth` values, EKS tokens); image references, registry
 * hosts, digests, ARNs and URLs stay readable.
 */

export const REDACTED = "[redacted]";

/** Longest quoted kubelet message (an ECR denial with its image reference is ~600 characters). */
const MAX_QUOTE = 1500;

/** Event messages that name the error kind but not the error. */
const GENERIC_EVENT = /^Error: \S+$/;
/** The waiting message of a back-off that carries no error (kubelet < 1.32). */
const BARE_BACKOFF = /^Back-off pulling image "[^"]*"\.?$/;
const BACKOFF_WITH_ERROR = /^Back-off pulling image "[^"]*":\s*(?:ErrImagePull:\s*)?([\s\S]+)$/;

/** The pull error inside a container's waiting message, if it carries one. */
export function errorInWaitingMessage(message: string | undefined): string | undefined {
  const text = (message ?? "").trim();
  if (text === "" || BARE_BACKOFF.test(text)) return undefined;
  const backoff = BACKOFF_WITH_ERROR.exec(text);
  if (backoff) return backoff[1]!.trim();
  if (/^Back-off pulling image/.test(text)) return undefined;
  return text;
}

/** Is this `Failed` event's message the pull error itself (not `Error: ErrImagePull` …)? */
export function isPullErrorEvent(message: string | undefined): boolean {
  const text = (message ?? "").trim();
  return text !== "" && !GENERIC_EVENT.test(text) && !BARE_BACKOFF.test(text);
}

// ---------------------------------------------------------------------------------------------
// Quoting without credentials

const SENSITIVE_KEYS =
  "x-amz-security-token|x-amz-signature|x-amz-credential|access_token|refresh_token|id_token|token|password|passwd|secret|auth|authorization|signature|sig|apikey|api_key";
/** `key=value` (query strings, logfmt) for a sensitive key. */
const KEY_EQUALS = new RegExp(`([?&;\\s,(]|^)(${SENSITIVE_KEYS})=([^&\\s"',;)]+)`, "gi");
/** `"key": "value"` / `key: value` (JSON or YAML echoed in an error) for a sensitive key. */
const KEY_COLON = new RegExp(`(["']?)(${SENSITIVE_KEYS})\\1(\\s*:\\s*)(["'])([^"']*)\\4`, "gi");
/** `scheme://user:pass@host` and `scheme://token@host`. */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@"']+@/gi;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g;
const EKS_TOKEN = /k8s-aws-v1\.[A-Za-z0-9_-]+/g;
/** A JWT (three base64url parts, the first two JSON objects). */
const JWT = /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/g;
/** A long base64 blob that is not a hex digest (an ECR password is ~2,000 base64 characters). */
const BASE64_BLOB = /[A-Za-z0-9+/]{80,}={0,2}/g;

/**
 * A kubelet/registry message with credentials removed and everything else kept: image
 * references, hosts, digests (`sha256:<hex>`), ARNs, repository names, URLs without userinfo.
 * `secrets` are exact values to remove as well (longest first).
 */
export function quoteKubeletMessage(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(/\s+/g, " ").trim();
  for (const secret of [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length)) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  out = out
    .replace(USERINFO, `$1${REDACTED}@`)
    .replace(BEARER, `$1 ${REDACTED}`)
    .replace(EKS_TOKEN, REDACTED)
    .replace(JWT, REDACTED)
    .replace(KEY_EQUALS, (_m, lead: string, key: string) => `${lead}${key}=${REDACTED}`)
    .replace(KEY_COLON, (_m, q: string, key: string, sep: string, vq: string) => `${q}${key}${q}${sep}${vq}${REDACTED}${vq}`)
    .replace(BASE64_BLOB, (m) => (looksEncoded(m) ? REDACTED : m));
  if (out.length > MAX_QUOTE) out = `${out.slice(0, MAX_QUOTE)}…`;
  return out;
}

/** Mixed case and digits: encoded bytes, not a hex digest or a path of lower-case words. */
function looksEncoded(run: string): boolean {
  return /[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run);
}

// ---------------------------------------------------------------------------------------------
// What the error says

/** An ECR authorization failure, as ECR words it. */
export interface EcrDenial {
  /** `arn:aws:sts::A:assumed-role/ROLE/SESSION`, `arn:aws:iam::A:user/U`, … */
  principal: string;
  /** The IAM role behind an assumed-role session (`arn:aws:iam::A:role/ROLE`), when there is one. */
  role?: string;
  /** `ecr:BatchGetImage`, `ecr:BatchImportUpstreamImage`, … */
  action: string;
  /** `arn:aws:ecr:REGION:ACCOUNT:repository/NAME` */
  resource: string;
  repository: string;
  region: string;
  account: string;
  /** ECR's reason ("no resource-based policy allows the … action", "an explicit deny in …"), if given. */
  because?: string;
}

export type PullErrorReading =
  | { kind: "rate-limited"; registry: string; evidence: string }
  | { kind: "permission-denied"; denial: EcrDenial }
  | { kind: "repository-not-found"; repository?: string; registryId?: string; evidence: string };

const DENIAL =
  /User: (arn:aws[a-z-]*:(?:sts|iam)::\d{12}:[^\s"\\]+) is not authorized to perform: (ecr:[A-Za-z]+) on resource: (arn:aws[a-z-]*:ecr:([a-z0-9-]+):(\d{12}):repository\/([^\s"\\]+))(?: because (no [a-z -]*?policy allows the ecr:[A-Za-z]+ action)| with (an explicit deny in an? [a-z -]*?policy))?/;
const RATE_LIMITED = /toomanyrequests|429 Too Many Requests|\bpull rate limit\b|\brate exceeded\b/i;
const REPOSITORY_NOT_FOUND = /name unknown|does not exist in the registry|repository (?:[^\s:]+ )?not found|repository_unknown/i;
const ECR_NAME_UNKNOWN = /The repository with name '([^']+)' does not exist in the registry with id '([^']+)'/;
const URL_HOST = /https?:\/\/([^/\s:"']+)(?::\d+)?\//;

/** The hosts under which Docker Hub serves (keyring normalisation: all are docker.io). */
const DOCKER_HUB_HOSTS = new Set(["registry-1.docker.io", "index.docker.io", "docker.io", "auth.docker.io"]);

/**
 * Reads the kubelet's texts (its pull error first, then the waiting message) for a cause that
 * needs no look at the pull secrets; the first text that names one decides. Undefined when none does.
 */
export function readPullError(texts: readonly string[], imageRegistry: string): PullErrorReading | undefined {
  for (const text of texts) {
    const reading = readOne(text, imageRegistry);
    if (reading) return reading;
  }
  return undefined;
}

function readOne(text: string, imageRegistry: string): PullErrorReading | undefined {
  const denial = readEcrDenial(text);
  if (denial) return { kind: "permission-denied", denial };
  if (RATE_LIMITED.test(text)) {
    const urlHost = URL_HOST.exec(text)?.[1]?.toLowerCase();
    const registry = urlHost === undefined ? imageRegistry : DOCKER_HUB_HOSTS.has(urlHost) ? "docker.io" : urlHost;
    return { kind: "rate-limited", registry, evidence: excerpt(text, RATE_LIMITED) };
  }
  if (REPOSITORY_NOT_FOUND.test(text)) {
    const ecr = ECR_NAME_UNKNOWN.exec(text);
    return { kind: "repository-not-found", ...(ecr ? { repository: ecr[1]!, registryId: ecr[2]! } : {}), evidence: excerpt(text, REPOSITORY_NOT_FOUND) };
  }
  return undefined;
}

export function readEcrDenial(text: string): EcrDenial | undefined {
  const m = DENIAL.exec(text.replace(/\s+/g, " "));
  if (!m) return undefined;
  const [, principal, action, resourceRaw, region, account, repositoryRaw, noPolicy, explicitDeny] = m;
  const resource = resourceRaw!.replace(/[.,;:]+$/, "");
  const repository = repositoryRaw!.replace(/[.,;:]+$/, "");
  const because = noPolicy ?? explicitDeny;
  const denial: EcrDenial = {
    principal: principal!,
    action: action!,
    resource,
    region: region!,
    account: account!,
    repository,
  };
  const assumed = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\//.exec(principal!);
  if (assumed) denial.role = `arn:${assumed[1]}:iam::${assumed[2]}:role/${assumed[3]}`;
  else if (/^arn:aws[a-z-]*:iam::\d{12}:role\//.test(principal!)) denial.role = principal!;
  if (because) denial.because = because;
  return denial;
}

/** The text from the first match of `pattern` on, up to 200 characters (the whole message is quoted elsewhere). */
function excerpt(text: string, pattern: RegExp): string {
  const flat = text.replace(/\s+/g, " ");
  const at = Math.max(0, flat.search(pattern));
  const cut = flat.slice(at, at + 200).trim();
  return cut.length < flat.length - at ? `${cut}…` : cut;
}
