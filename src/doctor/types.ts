/**
 * The `doctor` action's contract: a read-only checklist of whether this deployment works end to
 * end. Each line is one check with a stable `name`, a `status`, what was found (`detail`) and,
 * when it fails, what to do about it (`fix`). Nothing here may carry a token, password, `auth`
 * field or bearer token: details name hosts, ARNs, names, counts and times only.
 */
import type { Config } from "../config/config";
import type { Deadline } from "../shared/deadline";

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
}

/** What the cluster checks get: the configuration, the selected clusters, the clock, the deadline. */
export interface ClusterChecksInput {
  config: Config;
  /** Cluster names from the request (`--cluster`, `"clusters"`); undefined = every configured cluster. */
  clusters?: string[] | undefined;
  /** The clock token expiry is judged against (emulators with fixed-expiry tokens, replays). */
  tokenNow: () => Date;
  deadline: Deadline;
}

/** The per-cluster half of the doctor (src/doctor/cluster-checks.ts), loaded only when clusters are configured. */
export type ClusterChecks = (input: ClusterChecksInput) => Promise<DoctorCheck[]>;
