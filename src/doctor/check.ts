/**
 * Building checklist lines, and running one check so that nothing it throws escapes: the
 * deadline becomes a failed line saying so, any other error a failed line with its message.
 */
import { describeError } from "../shared/errors";
import { DEADLINE_REASON, isDeadlineExceeded, type Deadline } from "../shared/deadline";
import { deadlineProblem } from "../shared/problem";
import type { DoctorCheck } from "./types";

export const pass = (name: string, detail: string): DoctorCheck => ({ name, status: "pass", detail });
export const fail = (name: string, detail: string, fix: string): DoctorCheck => ({ name, status: "fail", detail, fix });
export const skip = (name: string, detail: string): DoctorCheck => ({ name, status: "skip", detail });

/** The line of a check the run's deadline cut (or never let start); Report.deadline counts it. */
export function deadlineCheck(name: string): DoctorCheck {
  return {
    ...fail(
      name,
      `${DEADLINE_REASON}: the run's deadline came before this check finished`,
      "run the doctor again with a longer --timeout (the Lambda: a longer function timeout)",
    ),
    problem: deadlineProblem({ service: "aws" }, name),
  };
}

/**
 * Runs one check. `onError` turns an error the check did not expect into its failed line (the
 * fix depends on the check); the deadline is reported as such.
 */
export async function guarded(
  name: string,
  deadline: Deadline | undefined,
  check: () => Promise<DoctorCheck>,
  onError: (message: string, error: unknown) => DoctorCheck,
): Promise<DoctorCheck> {
  if (deadline?.expired()) return deadlineCheck(name);
  try {
    return await check();
  } catch (error) {
    if (isDeadlineExceeded(error)) return deadlineCheck(name);
    return onError(describeError(error), error);
  }
}

/** `11h59m` (negative: `-0h05m`, i.e. expired that long ago). */
export function duration(seconds: number): string {
  const sign = seconds < 0 ? "-" : "";
  const s = Math.abs(seconds);
  return `${sign}${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
