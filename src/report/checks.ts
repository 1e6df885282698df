/**
 * The doctor's checklist as it appears in a Report (`checks`), and its text rendering. Here, in
 * the report layer, because the Report carries it; src/doctor/types.ts re-exports the types.
 * Nothing here may carry a token, password, `auth` field or bearer token: details name hosts,
 * ARNs, names, counts and times only.
 */
import type { Problem } from "../shared/problem";
import { wrapText } from "./table";

export type DoctorStatus = "pass" | "fail" | "skip";

export interface DoctorCheck {
  /**
   * Stable, unique within one run: `<area> <subject>[ <detail>]`, lower-case area words, e.g.
   * `aws identity`, `ecr token us-east-1`, `registry login <host>`, `registry pull <host>/<repo>:<tag>`,
   * `secret exists <name>`, `cluster rbac <cluster> patch secrets`.
   */
  name: string;
  status: DoctorStatus;
  /** What was found (pass), why it failed (fail) or why it was not checked (skip). */
  detail: string;
  /** For a failed check: the change that makes it pass (a command, a policy statement, a variable). */
  fix?: string;
  /** A check that failed because something went wrong (the deadline, say) rather than a finding: what, typed. */
  problem?: Problem;
}

const WORD: Record<DoctorStatus, string> = { pass: "PASS", fail: "FAIL", skip: "SKIP" };

/** `N passed, N failed, N skipped`. */
export function checksSummary(checks: readonly DoctorCheck[]): string {
  const count = (status: DoctorStatus) => checks.filter((c) => c.status === status).length;
  return `${count("pass")} passed, ${count("fail")} failed, ${count("skip")} skipped`;
}

/**
 * One line per check, `PASS|FAIL|SKIP  name — detail`, a `fix:` line under every failure, then
 * the summary. With `width` (a terminal), long lines are wrapped under their text.
 */
export function formatChecks(checks: readonly DoctorCheck[], width?: number): string[] {
  const lines: string[] = [];
  const wrapped = (first: string, text: string, indent: number) => {
    if (width === undefined || first.length + text.length <= width) return [first + text];
    // As many words as fit after the lead, the rest wrapped under it.
    const words = text.split(/\s+/).filter((w) => w !== "");
    let head = "";
    while (words.length > 0 && first.length + head.length + 1 + words[0]!.length <= width) head += `${head ? " " : ""}${words.shift()!}`;
    const rest = words.length > 0 ? wrapText(words.join(" "), Math.max(width - indent, 24)) : [];
    return [(first + head).trimEnd(), ...rest.map((l) => " ".repeat(indent) + l)];
  };
  for (const check of checks) {
    const lead = `${WORD[check.status]}  ${check.name} — `;
    lines.push(...wrapped(lead, check.detail, 6));
    if (check.status === "fail") lines.push(...wrapped("      fix: ", check.fix ?? "see the detail above", 11));
  }
  lines.push(checksSummary(checks));
  return lines;
}
