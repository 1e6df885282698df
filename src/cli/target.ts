/**
 * The first line of every CLI command: what it acts on (account and region, the secrets, the
 * clusters) and where the configuration came from. Pure.
 */
import { DEFAULT_SECRET_NAME, renderSecretName, type Config } from "../config/config";

export interface ConfigSource {
  /** `--function`: the function's name and ARN, and the local variables that override it. */
  function?: { name: string; arn: string; accountId: string; overridden: string[]; added: string[] };
}

/** What the command line narrows the run to (--registry, --cluster, --namespace). */
export interface TargetOptions {
  clusters?: readonly string[];
  registries?: readonly string[];
  namespaces?: readonly string[];
}

/** One line: `heal: account 1234… in us-east-1; secrets …; clusters …; configuration: …`. */
export function describeTarget(command: string, config: Config, source: ConfigSource, options: TargetOptions = {}): string {
  const r = config.rotation;
  const region = r.defaultRegion ?? "(no AWS_REGION)";
  const accounts = [...new Set(r.registries.map((x) => x.accountId))];
  const account = source.function?.accountId || (accounts.length > 0 ? accounts.join(",") : "of your AWS credentials");
  const parts: string[] = [`${command}: account ${account}, region ${region}`];
  if (command !== "diagnose") parts.push(describeSecrets(config, source, options.registries));
  if (command !== "rotate" || config.kubernetes.fallbackMode === "always") {
    parts.push(describeClusters(config, options.clusters));
    const namespaced = command === "heal" || command === "diagnose";
    if (namespaced && config.kubernetes.clusters.length > 0) parts.push(describeNamespaces(config, options.namespaces));
  }
  const fn = source.function;
  const changed = fn ? [...fn.overridden, ...fn.added] : [];
  parts.push(
    fn
      ? `configuration: function ${fn.name} (${fn.arn})${changed.length > 0 ? `, overridden here: ${changed.join(", ")}` : ""}`
      : "configuration: this shell's environment (use --function NAME to act with the deployed function's)",
  );
  return parts.join("; ");
}

/** The secrets this run writes: every configured registry's, or only those of --registry. */
function describeSecrets(config: Config, source: ConfigSource, named: readonly string[] | undefined): string {
  const r = config.rotation;
  const region = r.defaultRegion ?? "(no AWS_REGION)";
  const registries = named ? r.registries.filter((x) => named.includes(x.host)) : r.registries;
  const unknown = (named ?? []).filter((host) => !r.registries.some((x) => x.host === host));
  const names =
    registries.length > 0
      ? registries.map((x) => renderSecretName(r.secretNameTemplate, x))
      : unknown.length > 0
        ? []
        : [
            source.function?.accountId
              ? renderSecretName(r.secretNameTemplate, { accountId: source.function.accountId, region })
              : r.secretNameTemplate.replaceAll("{region}", region),
          ];
  const parts: string[] = [];
  if (named)
    parts.push(`registr${named.length === 1 ? "y" : "ies"} ${named.join(", ")}${unknown.length > 0 ? ` (${notConfigured(unknown, "ECR_REGISTRIES")})` : ""}`);
  const defaults = r.registries.length === 0 && names.length > 0 ? " (this account's registry)" : "";
  if (names.length > 0) {
    const defaultName = r.secretNameTemplate === DEFAULT_SECRET_NAME && r.registries.length === 0 ? " [default name]" : "";
    parts.push(`secret${names.length === 1 ? "" : "s"} ${names.join(", ")}${defaults}${defaultName}`);
  }
  if (r.combinedSecretName) parts.push(`combined secret ${r.combinedSecretName}`);
  return parts.join("; ");
}

const notConfigured = (names: readonly string[], variable: string): string => `${names.join(", ")} not in ${variable}`;

/** The clusters this run reads or writes: the configured ones, or those --cluster names (name or region:name). */
function describeClusters(config: Config, named: readonly string[] | undefined): string {
  const configured = config.kubernetes.clusters;
  const matches = (c: (typeof configured)[number], name: string) => name === c.name || name === `${c.region}:${c.name}`;
  const selected = named ? configured.filter((c) => named.some((name) => matches(c, name))) : configured;
  const unknown = (named ?? []).filter((name) => !configured.some((c) => matches(c, name)));
  const listed = selected.map((c) => `${c.region}:${c.name}`);
  if (unknown.length > 0) {
    const all = configured.map((c) => `${c.region}:${c.name}`).join(", ") || "none";
    return `cluster${named!.length === 1 ? "" : "s"} ${named!.join(", ")} (${notConfigured(unknown, "EKS_CLUSTERS")}: ${all})`;
  }
  if (listed.length > 0) return `cluster${listed.length === 1 ? "" : "s"} ${listed.join(", ")}`;
  return "no cluster (EKS_CLUSTERS is empty)";
}

/** The namespaces: --namespace, else the configuration's target. */
function describeNamespaces(config: Config, named: readonly string[] | undefined): string {
  if (named && named.length > 0) return `namespace${named.length === 1 ? "" : "s"} ${named.join(", ")}`;
  const t = config.kubernetes.namespaces;
  switch (t.mode) {
    case "list":
      return `namespace${t.names.length === 1 ? "" : "s"} ${t.names.join(", ")}`;
    case "selector":
      return `namespaces labelled ${t.labelSelector}`;
    case "all":
      return `all namespaces${t.exclude.length > 0 ? ` except ${t.exclude.join(", ")}` : ""}`;
  }
}

/**
 * With only default configuration (no --function, no ECR_REGISTRIES, no SECRET_NAME), a CLI
 * rotate/heal may be about to create a secret nothing reads: the refusal it gets instead.
 */
export function defaultOnlyRefusal(env: Record<string, string | undefined>, source: ConfigSource): string | undefined {
  if (source.function) return undefined;
  const set = (name: string) => (env[name] ?? "").trim() !== "";
  if (set("ECR_REGISTRIES") || set("SECRET_NAME")) return undefined;
  return "it does not exist, and this run has only the default configuration (no SECRET_NAME, no ECR_REGISTRIES, no --function), so it is probably not the secret your deployment uses: run with --function NAME to act with the deployed function's configuration, or pass --create to create it";
}
