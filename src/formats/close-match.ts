/**
 * "Did you mean": the candidates closest to a mistyped name (commands, options, clusters,
 * namespaces). Pure. Only names from `candidates` are ever returned, so a suggestion never
 * leaves the scope the caller passes in.
 */
import { editDistance } from "./region";

/** Edits allowed for a name of this length: 1 for short names, up to 3 for long ones. */
const allowance = (length: number): number => (length <= 4 ? 1 : length <= 8 ? 2 : 3);

/**
 * The nearest candidates within a few edits of `name` (or that start with it, or it with them):
 * those at the smallest distance found, at most `limit`. Case is ignored for the distance.
 */
export function closeMatches(name: string, candidates: readonly string[], limit = 3): string[] {
  const wanted = name.toLowerCase();
  const max = allowance(wanted.length);
  const scored: Array<{ candidate: string; score: number }> = [];
  for (const candidate of new Set(candidates)) {
    const c = candidate.toLowerCase();
    if (c === wanted) continue;
    const prefix = wanted.length >= 3 && (c.startsWith(wanted) || wanted.startsWith(c));
    const score = prefix ? 1 : editDistance(wanted, c, max);
    if (score <= max) scored.push({ candidate, score });
  }
  const best = Math.min(...scored.map((s) => s.score));
  return scored
    .filter((s) => s.score === best)
    .sort((a, b) => a.candidate.localeCompare(b.candidate))
    .slice(0, limit)
    .map((s) => s.candidate);
}

/** `; did you mean a or b?` for the close matches of `name`, or "" when there are none. */
export function didYouMean(name: string, candidates: readonly string[], format: (s: string) => string = (s) => s): string {
  const matches = closeMatches(name, candidates);
  if (matches.length === 0) return "";
  return `; did you mean ${matches.map(format).join(" or ")}?`;
}
