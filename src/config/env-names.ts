/**
 * Variables that look like the product's but are not read by it (`ECR_REGISTRY`, `EKS_CLUSTER`,
 * `SECRETNAME`, `KUBE_CONCURENCY`): a warning naming the variable that was probably meant. Pure;
 * the names the configuration reads are passed in, so a new variable needs no change here.
 */
import { editDistance } from "../formats/region";

/** Prefixes of the product's variables: an unread variable with one of them is reported. */
const PRODUCT_PREFIXES = [
  "ECR_",
  "EKS_",
  "SECRET_",
  "SECRETS_",
  "KUBE_",
  "ESO_",
  "PULL_",
  "TARGET_",
  "NAMESPACE_",
  "EXCLUDE_",
  "PATCH_",
  "FALLBACK_",
  "ADOPT_",
  "TOKEN_",
  "WRITE_",
  "COMBINED_",
  "KMS_",
  "PROBE_",
];

/** Variables with those prefixes that belong to something else (the test cache, other tools). */
const NOT_OURS = new Set(["ECR_ROTATOR_CACHE", "KUBE_CONFIG", "KUBECONFIG", "KUBE_EDITOR", "KUBE_PS1_ENABLED", "SECRET_KEY"]);

/** Upper case, no separators, singular (REGISTRIES → REGISTRY, CLUSTERS → CLUSTER). */
const squash = (name: string) =>
  name
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, "")
    .replace(/IES$/, "Y")
    .replace(/S$/, "");

/** The known variable `name` most likely stands for, if any. */
function intended(name: string, known: readonly string[]): string | undefined {
  const s = squash(name);
  const limit = Math.max(2, Math.floor(s.length / 6));
  let best: string | undefined;
  let bestScore = limit + 1;
  for (const k of known) {
    const q = squash(k);
    // ECR_REGISTRY → ECR_REGISTRIES, EKS_CLUSTER → EKS_CLUSTERS, SECRETNAME → SECRET_NAME.
    const score = q === s ? 0 : s.length >= 6 && q.startsWith(s) && q.length - s.length <= 5 ? 1 : editDistance(s, q, bestScore - 1);
    if (score < bestScore) [best, bestScore] = [k, score];
  }
  return bestScore <= limit ? best : undefined;
}

/** One warning per variable of `env` that is not in `known` but looks like one of them or like the product's. */
export function unknownVariableWarnings(env: Record<string, string | undefined>, known: readonly string[]): string[] {
  const knownSet = new Set(known);
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (knownSet.has(name) || NOT_OURS.has(name) || env[name] === undefined) continue;
    const meant = intended(name, known);
    if (meant !== undefined) {
      warnings.push(
        `${name} is not a variable of ecr-token-rotator and is ignored: did you mean ${meant}?${env[meant] !== undefined ? ` (${meant} is also set)` : ""}`,
      );
    } else if (PRODUCT_PREFIXES.some((p) => name.startsWith(p))) {
      warnings.push(`${name} is not a variable of ecr-token-rotator and is ignored (README.md, "Configuration", lists them)`);
    }
  }
  return warnings;
}
