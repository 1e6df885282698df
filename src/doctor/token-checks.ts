/**
 * `cluster oldest-token <cluster>`: the pull Secrets named PULL_SECRET_NAME in the target
 * namespaces (whoever wrote them: the fallback or ESO), reduced on arrival to the expiry embedded
 * in each ECR password (diagnose/reduce.ts, formats/ecr-token.ts), and the oldest of them judged
 * against TOKEN_MIN_VALIDITY_MINUTES at `tokenNow`. Never a password, `auth` or docker config in
 * what is kept. Reads: an explicit namespace list → one GET per namespace; otherwise one paged
 * namespace LIST and one paged cluster-wide Secret LIST by `metadata.name`.
 */
import { reduceSecret } from "../diagnose/reduce";
import { secondsUntil } from "../formats/ecr-token";
import { selectNamespaces } from "../kube/namespaces";
import { forEachListed, pool, reducedNamespace } from "../kube/paging";
import type { KubeNamespace, KubeSecret } from "../kube/types";
import { isDeadlineExceeded } from "../shared/deadline";
import { rerunCommand } from "../shared/next-step";
import { checkName, fail, listSome, pass, readFailure, readFix, skip, type ClusterCheck, type ClusterCheckContext } from "./cluster-context";
import { duration } from "./check";
import type { DoctorCheck } from "./types";

/** Parallel GETs of an explicit namespace list. */
const READ_CONCURRENCY = 8;
/** Namespaces named in the fix's re-run command at most (more: heal the whole cluster). */
const MAX_RERUN_NAMESPACES = 5;

/** One pull Secret reduced to its earliest embedded expiry. */
interface Held {
  namespace: string;
  host: string;
  expiresAt: Date;
}

/** `cluster oldest-token <c>`: the oldest ECR token in the target namespaces' pull Secrets. */
export const oldestTokenCheck: ClusterCheck = {
  names: (label) => [checkName.oldestToken(label)],
  needs: "session",
  run: async (run) => [await oldestToken(run.session!)],
};

async function oldestToken(ctx: ClusterCheckContext): Promise<DoctorCheck> {
  const name = checkName.oldestToken(ctx.label);
  const secretName = ctx.config.kubernetes.pullSecretName;
  const held: Held[] = [];
  let found = 0;
  let namespaces: number;
  const keep = (namespace: string, secret: KubeSecret | undefined): void => {
    if (secret === undefined) return;
    found++;
    let earliest: Held | undefined;
    for (const entry of reduceSecret(secretName, secret).entries) {
      if (entry.expiresAt && (earliest === undefined || entry.expiresAt < earliest.expiresAt))
        earliest = { namespace, host: entry.key, expiresAt: entry.expiresAt };
    }
    if (earliest) held.push(earliest);
  };
  /** The read in progress, for a failure's line and fix. */
  let reading = { what: "get secrets", right: "get on secrets" };
  try {
    const target = ctx.config.kubernetes.namespaces;
    if (target.mode === "list") {
      const names = target.names; // unique: the configuration dedupes them
      namespaces = names.length;
      await pool(names, READ_CONCURRENCY, async (namespace) => {
        keep(namespace, await ctx.retried(() => ctx.api.readSecret(namespace, secretName)));
      });
    } else {
      reading = { what: "list namespaces", right: "list on namespaces" };
      const listed: KubeNamespace[] = [];
      await forEachListed(
        (o) => ctx.api.listNamespaces(o),
        target.mode === "selector" ? { labelSelector: target.labelSelector } : {},
        (n) => void listed.push(reducedNamespace(n)),
        ctx.paging,
      );
      const selected = new Set(selectNamespaces(target, listed).selected);
      namespaces = selected.size;
      reading = { what: "list secrets cluster-wide", right: "list on secrets" };
      await forEachListed(
        (o) => ctx.api.listSecrets(o),
        { fieldSelector: `metadata.name=${secretName}` },
        (s) => {
          const ns = s.metadata.namespace ?? "";
          if (selected.has(ns) && s.metadata.name === secretName) keep(ns, s);
        },
        ctx.paging,
      );
    }
  } catch (error) {
    if (isDeadlineExceeded(error)) throw error;
    return fail(name, readFailure(error, `${reading.what} (pull Secrets ${secretName})`), readFix(error, reading.right));
  }

  const where = `${namespaces} target namespace${namespaces === 1 ? "" : "s"}`;
  if (found === 0) return skip(name, `no pull Secret ${secretName} in the ${where}`);
  if (held.length === 0) return skip(name, `${found} pull Secret${found > 1 ? "s" : ""} ${secretName}, none holding an ECR token with an embedded expiry`);

  const now = ctx.tokenNow();
  const minimum = ctx.config.rotation.minTokenValiditySeconds;
  held.sort((a, b) => a.expiresAt.getTime() - b.expiresAt.getTime() || a.namespace.localeCompare(b.namespace));
  const oldest = held[0]!;
  const left = secondsUntil(oldest.expiresAt, now);
  const at = oldest.expiresAt.toISOString();
  const about = `oldest token: ${secretName} in namespace ${oldest.namespace} (${oldest.host})`;
  if (left >= minimum) {
    return pass(name, `${about} valid for ${duration(Math.abs(left))} (until ${at}); ${found} pull Secret${found > 1 ? "s" : ""} in the ${where}`);
  }
  const stale = [...new Set(held.filter((h) => secondsUntil(h.expiresAt, now) < minimum).map((h) => h.namespace))];
  const state = left <= 0 ? `expired ${duration(Math.abs(left))} ago (at ${at})` : `expires in ${duration(Math.abs(left))} (at ${at})`;
  const heal = rerunCommand(ctx.label, stale.length <= MAX_RERUN_NAMESPACES ? stale : []);
  return fail(
    name,
    `${about} ${state}, below TOKEN_MIN_VALIDITY_MINUTES=${minimum / 60}; ${stale.length} of ${found} pull Secrets below it: ${listSome(stale)}`,
    `${heal} (re-writes the product's pull Secrets and re-syncs the ExternalSecrets that own ESO-managed ones); if they go stale again: ESO's refreshInterval must be 1h or less (README: freshness budget), or set FALLBACK_MODE=always`,
  );
}
