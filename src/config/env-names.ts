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
  "RESTART_",
  "RECORD_",
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

/**
 * The set of characters of a squashed name as 32 bits (A–Z, and the digits folded onto 6 bits).
 * Each edit changes that set by at most two members (a transposition by none), so half the size of
 * two names' symmetric difference is a lower bound of their edit distance: most of the
 * environment (PATH, AWS_LAMBDA_…) is ruled out by it without computing the distance, which at
 * cold start (module initialisation, code not yet optimised) cost ~5 ms for a Lambda's ~50 variables.
 */
function letters(squashed: string): number {
  let bits = 0;
  for (let i = 0; i < squashed.length; i++) {
    const c = squashed.charCodeAt(i);
    bits |= 1 << (c >= 65 ? c - 65 : 26 + ((c - 48) % 6));
  }
  return bits;
}

function bitCount(n: number): number {
  let count = 0;
  for (let v = n >>> 0; v !== 0; v &= v - 1) count++;
  return count;
}

interface Known {
  name: string;
  squashed: string;
  letters: number;
}

/** The known variable `name` most likely stands for, if any. */
function intended(name: string, known: readonly Known[]): string | undefined {
  const s = squash(name);
  const sLetters = letters(s);
  const limit = Math.max(2, Math.floor(s.length / 6));
  let best: string | undefined;
  let bestScore = limit + 1;
  for (const { name: k, squashed: q, letters: qLetters } of known) {
    // A lower bound of the distance at or above the best score so far: this one cannot do better.
    // (The prefix rule below scores 1 and needs q to start with s: no letter of s is missing from q.)
    const prefixPossible = s.length >= 6 && (sLetters & ~qLetters) === 0 && q.length - s.length <= 5 && q.length >= s.length;
    if (!prefixPossible && (Math.abs(q.length - s.length) >= bestScore || Math.ceil(bitCount(sLetters ^ qLetters) / 2) >= bestScore)) continue;
    // ECR_REGISTRY → ECR_REGISTRIES, EKS_CLUSTER → EKS_CLUSTERS, SECRETNAME → SECRET_NAME.
    const score = q === s ? 0 : s.length >= 6 && q.startsWith(s) && q.length - s.length <= 5 ? 1 : editDistance(s, q, bestScore - 1);
    if (score < bestScore) [best, bestScore] = [k, score];
  }
  return bestScore <= limit ? best : undefined;
}

/** One warning per variable of `env` that is not in `known` but looks like one of them or like the product's. */
export function unknownVariableWarnings(env: Record<string, string | undefined>, known: readonly string[]): string[] {
  const knownSet = new Set(known);
  // Squashed once: this runs over every environment variable at cold start (module initialisation).
  const squashed = known.map((name): Known => {
    const q = squash(name);
    return { name, squashed: q, letters: letters(q) };
  });
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (knownSet.has(name) || NOT_OURS.has(name) || env[name] === undefined) continue;
    const meant = intended(name, squashed);
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
