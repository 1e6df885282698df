/**
 * The `doctor` action's contract: a read-only checklist of whether this deployment works end to
 * end. Each line is one check with a stable `name`, a `status`, what was found (`detail`) and,
 * when it fails, what to do about it (`fix`). Nothing here may carry a token, password, `auth`
 * field or bearer token: details name hosts, ARNs, names, counts and times only.
 */
import type { Config } from "../config/config";
import type { DoctorCheck } from "../report/checks";
import type { Deadline } from "../shared/deadline";

// The check itself is part of the Report, so it is defined in the report layer (below this one).
export type { DoctorCheck, DoctorStatus } from "../report/checks";

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
