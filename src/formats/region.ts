/**
 * AWS region names, checked against the AWS SDK's partition data (src/formats/aws-partitions.json,
 * copied from @aws-sdk/core by scripts/update-aws-partitions.mjs): the known regions of every
 * partition, and each partition's region pattern for regions newer than the data. Pure.
 *
 * A name that matches a pattern but looks like a typo of a known region (`us-esat-1`: its middle
 * word is no region's and is one or two edits from `east`) is refused with the suggestion;
 * `us-west-3` or `eu-south-3` (known words, new numbers) are accepted as new regions.
 */
import data from "./aws-partitions.json";

interface Partition {
  id: string;
  regionRegex: string;
  regions: string[];
}

const PARTITIONS: ReadonlyArray<Partition & { pattern: RegExp }> = (data.partitions as Partition[]).map((p) => ({ ...p, pattern: new RegExp(p.regionRegex) }));
const KNOWN: ReadonlySet<string> = new Set(PARTITIONS.flatMap((p) => p.regions));
/** Compass words every partition may use in a new region name. */
const COMPASS = ["north", "south", "east", "west", "central", "northeast", "northwest", "southeast", "southwest"];
/** The middle words of known regions (`east`, `southeast`, `iso-east`, `gov-west`, …) and the compass words. */
const WORDS: ReadonlySet<string> = new Set([...COMPASS, ...[...KNOWN].map((r) => middle(r)).filter((w): w is string => w !== undefined)]);

function middle(region: string): string | undefined {
  const m = /^[a-z]+-(.+)-\d+$/.exec(region);
  return m?.[1];
}

/**
 * Optimal string alignment distance (Damerau–Levenshtein with adjacent transpositions). With
 * `max`, any distance above it is returned as `max + 1` early (three rows, no per-cell allocation:
 * it runs over every environment variable at cold start).
 */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let before = new Int32Array(b.length + 1);
  let previous = Int32Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, before[j - 2]! + 1);
      current[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    [before, previous, current] = [previous, current, before];
  }
  return Math.min(previous[b.length]!, max + 1);
}

/** The known region nearest to `region` within `max` edits, if any. */
export function nearestKnownRegion(region: string, max = 3): string | undefined {
  let best: string | undefined;
  let bestDistance = max + 1;
  for (const known of KNOWN) {
    const distance = editDistance(region.toLowerCase(), known, bestDistance);
    if (distance < bestDistance) [best, bestDistance] = [known, distance];
  }
  return best;
}

export type RegionCheck = { ok: true; known: boolean; partition: string } | { ok: false; problem: string };

/** Whether `region` names an AWS region; the problem says why not and suggests the nearest known one. */
export function checkRegion(region: string): RegionCheck {
  for (const p of PARTITIONS) if (p.regions.includes(region)) return { ok: true, known: true, partition: p.id };
  const suggest = (distance: number) => {
    const near = nearestKnownRegion(region, distance);
    return near ? ` (did you mean ${near}?)` : "";
  };
  const partition = PARTITIONS.find((p) => p.pattern.test(region));
  if (partition === undefined) {
    return { ok: false, problem: `${JSON.stringify(region)} is not an AWS region${suggest(3)}` };
  }
  const word = middle(region);
  if (word !== undefined && !WORDS.has(word) && [...WORDS].some((w) => editDistance(word, w, 2) <= 2)) {
    return {
      ok: false,
      problem: `${JSON.stringify(region)} is not a known AWS region${suggest(2) || ` (no ${partition.id} region has the word ${JSON.stringify(word)})`}`,
    };
  }
  return { ok: true, known: false, partition: partition.id };
}

/** The partition data's origin (for messages and docs). */
export const PARTITION_DATA_SOURCE: string = data.source;
