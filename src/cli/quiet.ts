/**
 * `doctor --quiet`: the Report's text with only the failed checks (each with its fix) and the
 * summary of all of them. The JSON Report (--json) always holds every check.
 */
import { checksSummary } from "../report/checks";
import { formatReport, type FormatOptions, type Report } from "../report/report";

export function formatQuiet(report: Report, options: FormatOptions): string {
  if (report.checks === undefined) return formatReport(report, options);
  const failed = report.checks.filter((c) => c.status === "fail");
  const lines = formatReport({ ...report, checks: failed }, options).split("\n");
  const at = lines.indexOf(checksSummary(failed));
  const hidden = report.checks.length - failed.length;
  if (at >= 0) lines[at] = `${checksSummary(report.checks)}${hidden > 0 ? ` (--quiet: ${hidden} passed or skipped not shown)` : ""}`;
  return lines.join("\n");
}
