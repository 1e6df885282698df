/**
 * `cluster eso-crds <cluster>`: does the cluster serve ESO's API (external-secrets.io/v1), and if
 * not, does anything else keep its pull Secrets fresh? `cluster externalsecrets <cluster>`: the
 * ExternalSecrets that read the product's Secrets Manager secrets, and whether ESO reports them
 * synced (their `Ready` condition).
 */
import { renderSecretName, type Config } from "../config/config";
import { forEachListed } from "../kube/paging";
import type { KubeExternalSecret } from "../kube/types";
import { isDeadlineExceeded } from "../shared/deadline";
import { rerunCommand } from "../shared/next-step";
import { scrub } from "../shared/redact-text";
import { checkName, fail, listSome, pass, readFailure, readFix, skip, type ClusterCheck, type ClusterCheckContext, type EsoServed } from "./cluster-context";
import type { DoctorCheck } from "./types";

const ESO_GROUP_VERSION = "external-secrets.io/v1";

/** `cluster eso-crds <c>`: leaves whether ESO's API is served (`run.esoServed`) for the externalsecrets line. */
export const esoCrdsCheck: ClusterCheck = {
  names: (label) => [checkName.esoCrds(label)],
  needs: "session",
  run: async (run) => {
    const found = await esoCrds(run.session!);
    run.esoServed = found.served;
    return [found.check];
  },
};

/** `cluster externalsecrets <c>`: the ExternalSecrets reading the product's secrets (skipped where ESO is not served). */
export const externalSecretsCheck: ClusterCheck = {
  names: (label) => [checkName.externalSecrets(label)],
  needs: "session",
  run: async (run) => [await externalSecrets(run.session!, run.esoServed ?? "unknown")],
};

async function esoCrds(ctx: ClusterCheckContext): Promise<{ check: DoctorCheck; served: EsoServed }> {
  const name = checkName.esoCrds(ctx.label);
  let resources: string[] | undefined;
  try {
    resources = await ctx.probe.served(ESO_GROUP_VERSION);
  } catch (error) {
    if (isDeadlineExceeded(error)) throw error;
    return {
      check: fail(
        name,
        `could not read the API discovery of ${ESO_GROUP_VERSION}: ${readFailure(error, `GET /apis/${ESO_GROUP_VERSION}`)}`,
        "run the doctor again; discovery is open to every authenticated identity (system:discovery), so a refusal means the cluster's default RBAC was changed",
      ),
      served: "unknown",
    };
  }
  if (resources?.includes("externalsecrets")) {
    const ces = resources.includes("clusterexternalsecrets");
    return {
      check: pass(
        name,
        `${ESO_GROUP_VERSION} serves externalsecrets${ces ? " and clusterexternalsecrets" : " (not clusterexternalsecrets: ClusterExternalSecret children cannot be re-synced through a parent)"}`,
      ),
      served: "served",
    };
  }
  // Not served: an ESO older than v0.16 serves only v1beta1, which the product's manifests and re-sync do not use.
  const legacy = await ctx.probe.served("external-secrets.io/v1beta1").catch((error: unknown) => {
    // Only a hint to the message below; but the deadline is the deadline, not "ESO not installed".
    if (isDeadlineExceeded(error)) throw error;
    return undefined;
  });
  const what = legacy?.includes("externalsecrets")
    ? `ESO is installed but serves only external-secrets.io/v1beta1, not ${ESO_GROUP_VERSION}`
    : `ESO not installed (${ESO_GROUP_VERSION} is not served)`;
  const install = legacy?.includes("externalsecrets")
    ? "upgrade External Secrets Operator to v0.16 or later (the product's manifests and re-sync use external-secrets.io/v1)"
    : "install External Secrets Operator (helm install external-secrets external-secrets/external-secrets -n external-secrets --create-namespace), then kubectl apply -f infra/k8s/base/cluster-secret-store.yaml -f infra/k8s/external-secret.yaml";
  const k = ctx.config.kubernetes;
  if (k.esoResyncSelector !== undefined) {
    return { check: fail(name, `${what}, yet ESO_RESYNC is set: every heal's re-sync would fail`, `${install}; or unset ESO_RESYNC`), served: "not-served" };
  }
  if (k.fallbackMode === "always") {
    return { check: pass(name, `${what}; the fallback writes the pull Secrets on every rotation (FALLBACK_MODE=always)`), served: "not-served" };
  }
  return {
    check: fail(
      name,
      `${what}, and FALLBACK_MODE=${k.fallbackMode}: nothing refreshes the pull Secrets ${k.fallbackMode === "on-heal" ? "between heals, so they expire 12 h after each" : "in this cluster"}`,
      `set FALLBACK_MODE=always (the fallback then writes the pull Secrets on every rotation), or ${install}`,
    ),
    served: "not-served",
  };
}

/** The Secrets Manager names the product writes, and a matcher for an ExternalSecret's remoteRef key (a name or an ARN). */
export function productSecretNames(config: Config): { names: string[]; matches: (key: string) => boolean } {
  const r = config.rotation;
  const names = r.registries.map((registry) => renderSecretName(r.secretNameTemplate, registry));
  if (r.combinedSecretName) names.push(r.combinedSecretName);
  const patterns = names.map(escape);
  // No registry configured: the function's own account, which only AWS knows here; match the template.
  if (r.registries.length === 0) {
    patterns.push(
      escape(r.secretNameTemplate)
        .replaceAll("\\{account\\}", "(?:\\d{12}|public)")
        .replaceAll("\\{region\\}", r.defaultRegion ? escape(r.defaultRegion) : "[a-z0-9-]+"),
    );
    names.push(r.secretNameTemplate.replaceAll("{region}", r.defaultRegion ?? "{region}"));
  }
  // ESO takes a name or an ARN (…:secret:NAME, with or without the random 6-character suffix).
  const re = new RegExp(`^(?:arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\\d{12}:secret:)?(?:${patterns.join("|")})(?:-[A-Za-z0-9]{6})?$`);
  return { names: [...new Set(names)], matches: (key) => re.test(key) };
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

interface ReadingOurs {
  id: string;
  ready: boolean;
  /** ESO's condition, e.g. `Ready=False, SecretSyncedError: could not get secret data from provider`. */
  state: string;
}

async function externalSecrets(ctx: ClusterCheckContext, served: EsoServed): Promise<DoctorCheck> {
  const name = checkName.externalSecrets(ctx.label);
  if (served === "not-served") return skip(name, `ESO not installed (${ESO_GROUP_VERSION} is not served)`);
  const ours = productSecretNames(ctx.config);
  const found: ReadingOurs[] = [];
  let listed = 0;
  try {
    await forEachListed(
      (o) => ctx.api.listExternalSecrets(o),
      {},
      (es) => {
        listed++;
        // Reduced on arrival: only those reading our secret are kept, as id and state.
        if (readsOurs(es, ours.matches)) found.push(stateOf(es));
      },
      ctx.paging,
    );
  } catch (error) {
    if (isDeadlineExceeded(error)) throw error;
    return fail(name, readFailure(error, "list externalsecrets cluster-wide"), readFix(error, "list on externalsecrets"));
  }
  const secrets = listSome(ours.names, 3);
  if (found.length === 0) return skip(name, `no ExternalSecret reads ${secrets} (${listed} ExternalSecret${listed === 1 ? "" : "s"} in the cluster)`);
  const notReady = found.filter((f) => !f.ready).sort((a, b) => a.id.localeCompare(b.id));
  if (notReady.length === 0)
    return pass(name, `${found.length} ExternalSecret${found.length > 1 ? "s" : ""} read${found.length > 1 ? "" : "s"} ${secrets}, all synced (Ready=True)`);
  const [ns, esName] = notReady[0]!.id.split("/") as [string, string];
  return fail(
    name,
    `${notReady.length} of ${found.length} ExternalSecrets reading ${secrets} not synced: ${listSome(
      notReady.map((f) => `${f.id} (${f.state})`),
      5,
    )}`,
    `kubectl -n ${ns} describe externalsecret ${esName} (ESO's events say why; usually the ClusterSecretStore's access to Secrets Manager: secretsmanager:GetSecretValue, kms:Decrypt, SECRET_READERS across accounts); once fixed, ${rerunCommand(ctx.label, [])} re-syncs them`,
  );
}

function readsOurs(es: KubeExternalSecret, matches: (key: string) => boolean): boolean {
  const keys = [...(es.spec?.data ?? []).map((d) => d?.remoteRef?.key), ...(es.spec?.dataFrom ?? []).map((d) => d?.extract?.key)];
  return keys.some((key) => typeof key === "string" && matches(key));
}

function stateOf(es: KubeExternalSecret): ReadingOurs {
  const id = `${es.metadata.namespace ?? ""}/${es.metadata.name}`;
  const ready = (es.status?.conditions ?? []).find((c) => c?.type === "Ready");
  if (ready === undefined) return { id, ready: false, state: "no Ready condition yet: ESO has not synced it (is the controller running?)" };
  const words = [`Ready=${ready.status ?? "Unknown"}`, ready.reason, ready.message ? scrub(ready.message) : undefined].filter(Boolean);
  return { id, ready: ready.status === "True", state: words.join(", ").slice(0, 300) };
}
