/**
 * Kubernetes label selectors in their string syntax (`a=b,c!=d,e in (f,g),h notin (i),j,!k`):
 * parsed once — by the configuration (NAMESPACE_SELECTOR, ESO_RESYNC are checked at cold start)
 * and by the apply engine — and matched against labels. Pure.
 */

export type Requirement =
  | { key: string; op: "=" | "!="; values: [string] }
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "exists" | "!exists"; values: [] };

const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Splits on commas outside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

/** Parses a label selector (`a=b,c!=d,e in (f,g),h notin (i),j,!k`); throws a precise message. */
export function parseLabelSelector(selector: string): Requirement[] {
  const trimmed = selector.trim();
  if (trimmed === "") return [];
  const out: Requirement[] = [];
  for (const raw of splitTopLevel(trimmed)) {
    const part = raw.trim();
    const fail = (why: string): never => {
      throw new Error(`invalid label selector "${selector}": ${why} in "${part}"`);
    };
    const checkKey = (key: string): string => (KEY.test(key) ? key : fail(`bad key "${key}"`));
    const checkValue = (value: string): string => (VALUE.test(value) && value.length <= 63 ? value : fail(`bad value "${value}"`));
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^(\S+)\s+(in|notin)\s*\((.*)\)$/))) {
      const values = m[3]!.split(",").map((v) => checkValue(v.trim()));
      out.push({ key: checkKey(m[1]!), op: m[2] as "in" | "notin", values });
    } else if ((m = part.match(/^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/))) {
      out.push({ key: checkKey(m[1]!), op: m[2] === "!=" ? "!=" : "=", values: [checkValue(m[3]!)] });
    } else if ((m = part.match(/^!\s*(\S+)$/))) {
      out.push({ key: checkKey(m[1]!), op: "!exists", values: [] });
    } else if ((m = part.match(/^(\S+)$/))) {
      out.push({ key: checkKey(m[1]!), op: "exists", values: [] });
    } else fail("cannot parse requirement");
  }
  return out;
}

export function matchesLabelSelector(requirements: readonly Requirement[], labels: Readonly<Record<string, string>>): boolean {
  return requirements.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const value = labels[r.key];
    switch (r.op) {
      case "=":
        return has && value === r.values[0];
      case "!=":
        return !has || value !== r.values[0];
      case "in":
        return has && r.values.includes(value!);
      case "notin":
        return !has || !r.values.includes(value!);
      case "exists":
        return has;
      case "!exists":
        return !has;
    }
  });
}
