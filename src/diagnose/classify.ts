/**
 * Why is this container stuck pulling its image? Pure: takes what was read from the cluster
 * (already reduced — no password, no `auth`, no docker config is ever passed in) and returns the
 * causes, each with a code, a message and a hint for the operator: first what the kubelet's error
 * says (kubelet-causes.ts), then what the pull secrets say. Keys are matched to the image as the
 * kubelet does (keyring.ts). The kubelet tries EVERY matching credential, so a cause about the
 * credential (expired) is only claimed when it holds for all of them.
 */
import { tryParseRegistryHost } from "../formats/registry-host";
import { displayKey, keyMatchesImage, parseImage, parseKey } from "./keyring";
import { causeFromKubelet, ECR_PULL_ACTIONS } from "./kubelet-causes";
import { quoteKubeletMessage } from "./message";
import type { ReducedEntry, ReducedSecret, StuckContainerInput } from "./types";
import type { Cause } from "../report/report";

export type { Cause, CauseCode } from "../report/report";
export type { ReducedEntry, ReducedSecret, StuckContainerInput } from "./types";
export { displayKey, keyMatchesImage, parseImage } from "./keyring";
export { causeFromKubelet, ECR_PULL_ACTIONS, PULL_THROUGH_ACTIONS } from "./kubelet-causes";

/** Tokens expiring within this are treated as expired (pulls take time; clocks drift). */
export const EXPIRY_MARGIN_MS = 5 * 60_000;

const ACCEPTED_TYPES = ["kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg"];

const quote = (text: string | undefined): string => quoteKubeletMessage(text ?? "");

function isDefaultSa(name: string | undefined): boolean {
  return name === undefined || name === "" || name === "default";
}

/** The causes for one stuck container; never empty. Steps 0–2 end the diagnosis when they hold. */
export function classifyStuckContainer(input: StuckContainerInput): Cause[] {
  // 0–1. What the kubelet says, when it names a cause the pull secret cannot change.
  const fromKubelet = causeFromKubelet(input);
  if (fromKubelet) return [fromKubelet];
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

/** ServiceAccounts of the namespace, other than `sa`, that carry a pull secret (those with the product's first). */
function otherCarriers(input: StuckContainerInput, sa: string): Array<{ name: string; pullSecrets: string[] }> {
  const product = input.pullSecretName ?? "";
  return (input.namespaceServiceAccounts ?? [])
    .filter((s) => s.name !== sa && s.pullSecrets.length > 0)
    .sort((a, b) => Number(b.pullSecrets.includes(product)) - Number(a.pullSecrets.includes(product)) || a.name.localeCompare(b.name));
}

/** A ReplicaSet's name is its Deployment's plus `-<pod-template-hash>`. */
const REPLICA_SET_SUFFIX = /-[a-z0-9]{5,10}$/;

/** How this pod is recreated (admission then copies the ServiceAccount's imagePullSecrets). */
export function recreateCommand(input: Pick<StuckContainerInput, "namespace" | "pod" | "owner">): string {
  const kubectl = `kubectl -n ${input.namespace}`;
  const owner = input.owner;
  if (owner?.kind === "ReplicaSet" && REPLICA_SET_SUFFIX.test(owner.name))
    return `${kubectl} rollout restart deployment/${owner.name.replace(REPLICA_SET_SUFFIX, "")}`;
  if (owner?.kind === "StatefulSet" || owner?.kind === "DaemonSet") return `${kubectl} rollout restart ${owner.kind.toLowerCase()}/${owner.name}`;
  if (owner) return `${kubectl} delete pod ${input.pod} (its ${owner.kind} ${owner.name} recreates it)`;
  return `${kubectl} delete pod ${input.pod}, then create it again from its manifest (no controller owns it)`;
}

/** The next step for a pod without imagePullSecrets whose ServiceAccount `sa` does not (yet) carry one. */
function patchHint(input: StuckContainerInput, sa: string, otherwise: string): string {
  const pullSecret = input.pullSecretName ?? "its pull secret";
  if (input.patchServiceAccounts?.includes(sa)) {
    return `PATCH_SERVICE_ACCOUNTS already lists "${sa}": run heal (it adds ${pullSecret} to the ServiceAccount in ${input.namespace}), then recreate the pod: ${recreateCommand(input)}`;
  }
  return `${otherwise}, run heal, then recreate the pod: ${recreateCommand(input)}`;
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
  const carriers = later ? [] : otherCarriers(input, sa);
  const carrier = carriers[0];
  const carrierText = carrier
    ? `; ServiceAccount "${carrier.name}" in ${input.namespace} does carry ${carrier.pullSecrets.join(", ")}${
        carriers.length > 1
          ? ` (so ${carriers.length === 2 ? "does" : "do"} ${carriers
              .slice(1, 4)
              .map((c) => `"${c.name}"`)
              .join(", ")}${carriers.length > 4 ? " …" : ""})`
          : ""
      }`
    : "";
  const useCarrier = carrier
    ? `set serviceAccountName: ${carrier.name} in the pod template (its Deployment probably forgot it) or add imagePullSecrets: [{name: ${carrier.pullSecrets[0]}}], then roll it out; or `
    : "";
  if (isDefaultSa(input.serviceAccountName)) {
    return {
      code: "default-service-account-trap",
      message: `the pod runs as ServiceAccount "default" and has no imagePullSecrets; ${saText}${carrierText}`,
      hint: later
        ? `recreate the pod so admission copies the ServiceAccount's pull secret: ${recreateCommand(input)}`
        : `${useCarrier}${patchHint(input, "default", `set PATCH_SERVICE_ACCOUNTS=default (the product adds ${input.pullSecretName ?? "its pull secret"} to the ServiceAccount on heal)`)}`,
      ...(later ? { recreate: true as const } : {}),
    };
  }
  return {
    code: "no-image-pull-secrets",
    message: `the pod has no imagePullSecrets; ${saText}${carrierText}`,
    hint: later
      ? `recreate the pod so admission copies the ServiceAccount's pull secret: ${recreateCommand(input)}`
      : `${useCarrier}${patchHint(input, sa, `add the pull secret to the pod spec, or add "${sa}" to PATCH_SERVICE_ACCOUNTS`)}`,
    ...(later ? { recreate: true as const } : {}),
  };
}

/** 3. Referenced Secrets that are missing, of the wrong type or unreadable; the others are usable. */
function secretProblems(input: StuckContainerInput): { causes: Cause[]; usable: ReducedSecret[] } {
  const pullSecretName = input.pullSecretName;
  const causes: Cause[] = [];
  const usable: ReducedSecret[] = [];
  for (const secret of input.secrets) {
    if (!secret.exists) {
      const elsewhere = (input.secretsElsewhere?.[secret.name] ?? []).filter((ns) => ns !== input.namespace);
      const shown = elsewhere.slice(0, 5).join(", ") + (elsewhere.length > 5 ? ` and ${elsewhere.length - 5} more` : "");
      const where =
        elsewhere.length > 0
          ? `; a Secret of that name exists in ${elsewhere.length === 1 ? "namespace" : "namespaces"} ${shown} (a pod can only use the pull secrets of its own namespace)`
          : input.secretsElsewhere?.[secret.name] !== undefined
            ? "; no other namespace has a Secret of that name"
            : "";
      causes.push({
        code: "pull-secret-not-found",
        message: `imagePullSecret "${secret.name}" does not exist in namespace ${input.namespace}${where}`,
        hint:
          pullSecretName !== undefined && secret.name === pullSecretName
            ? `run heal with ${input.namespace} among the targets (TARGET_NAMESPACES / NAMESPACE_SELECTOR) so the product creates ${secret.name} there`
            : elsewhere.length > 0
              ? `create ${secret.name} in ${input.namespace} (e.g. a copy of the one in ${elsewhere[0]}), or point the pod at a pull secret of its own namespace${pullSecretName !== undefined ? ` (the product writes "${pullSecretName}")` : ""}`
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
  // The keys as they are written (scheme, path), credentials in URL userinfo excepted.
  const shown = [...new Set(entries.map(({ entry }) => displayKey(entry.key)))];
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
    message: `no entry of the pull secret${usableCount > 1 ? "s" : ""} matches the image's registry ${imageHostPort} (entries: ${shown.join(", ") || "none"})`,
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

/** The registry's answer in the kubelet's text: `401 Unauthorized`, `403 Forbidden`, or neither. */
function registryStatus(input: StuckContainerInput): 401 | 403 | undefined {
  const text = [input.detail ?? "", input.message ?? ""].join("\n");
  if (/\b401 Unauthorized\b/i.test(text)) return 401;
  if (/\b403 Forbidden\b/i.test(text)) return 403;
  return undefined;
}

/**
 * Nothing found in the cluster: the pull secrets look right, so the kubelet's own message is
 * the lead. A 401 (the registry refused the credential) with a pull secret that looks right: its
 * password is wrong or stale — what a heal refreshes.
 */
function unknownCause(input: StuckContainerInput, imageHostPort: string): Cause {
  const says = input.detail || input.message ? quote(input.detail || input.message) : "(no message)";
  const secrets = input.secrets.map((s) => `"${s.name}"`).join(", ");
  const status = registryStatus(input);
  if (status === 401) {
    const ours = input.pullSecretName !== undefined && input.secrets.some((s) => s.name === input.pullSecretName);
    return {
      code: "registry-refused-credential",
      message: `${imageHostPort} refused the credential (401 Unauthorized): the pull secret ${secrets} looks right for it, so the registry does not accept its password — wrong or stale; kubelet: ${says}`,
      hint: ours
        ? `run heal: it writes a fresh token into Secrets Manager and into ${input.pullSecretName}; the kubelet retries the pull by itself`
        : `refresh ${secrets} where it comes from (ESO: force a re-sync; else recreate it with a valid password), or point the pod at the product's pull secret${input.pullSecretName !== undefined ? ` (${input.pullSecretName}, refreshed by heal)` : ""}`,
    };
  }
  return {
    code: "unknown",
    message: `stuck in ${input.reason}, but the pull secret${input.secrets.length > 1 ? "s look" : " looks"} right for ${imageHostPort}; kubelet: ${says}`,
    hint:
      status === 403
        ? `a 403 without a reason usually means the token's IAM principal lacks ${ECR_PULL_ACTIONS.join(", ")} on the repository (or, across accounts, the repository policy does not grant them); otherwise kubectl -n ${input.namespace} describe pod ${input.pod}`
        : `read the kubelet's message and the pod's Events: kubectl -n ${input.namespace} describe pod ${input.pod}`,
  };
}
