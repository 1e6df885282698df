/**
 * The first line of every CLI command: what it acts on (account and region, the secrets, the
 * clusters) and where the configuration came from. Pure.
 */
import { DEFAULT_SECRET_NAME, renderSecretName, type Config } from "../config/config";

export interface ConfigSource {
  /** `--function`: the function's name and ARN, and the local variables that override it. */
  function?: { name: string; arn: string; accountId: string; overridden: string[]; added: string[] };
}

/** One line: `heal: account 1234… in us-east-1; secrets …; clusters …; configuration: …`. */
export function describeTarget(command: string, config: Config, source: ConfigSource, options: { clusters?: string[] } = {}): string {
  const r = config.rotation;
  const region = r.defaultRegion ?? "(no AWS_REGION)";
  const accounts = [...new Set(r.registries.map((x) => x.accountId))];
  const account = source.function?.accountId || (accounts.length > 0 ? accounts.join(",") : "of your AWS credentials");
  const parts: string[] = [`${command}: account ${account}, region ${region}`];
  if (command !== "diagnose") {
    const names =
      r.registries.length > 0
        ? r.registries.map((x) => renderSecretName(r.secretNameTemplate, x))
        : [
            source.function?.accountId
              ? renderSecretName(r.secretNameTemplate, { accountId: source.function.accountId, region })
              : r.secretNameTemplate.replaceAll("{region}", region),
          ];
    const defaults = r.registries.length === 0 ? " (this account's registry)" : "";
    parts.push(
      `secret${names.length === 1 ? "" : "s"} ${names.join(", ")}${defaults}${r.secretNameTemplate === DEFAULT_SECRET_NAME && r.registries.length === 0 ? " [default name]" : ""}`,
    );
    if (r.combinedSecretName) parts.push(`combined secret ${r.combinedSecretName}`);
  }
  const k = config.kubernetes;
  const selected = options.clusters ?? k.clusters.map((c) => c.name);
  const clusters = k.clusters.filter((c) => selected.includes(c.name)).map((c) => `${c.region}:${c.name}`);
  if (command !== "rotate" || k.fallbackMode === "always") {
    parts.push(clusters.length > 0 ? `cluster${clusters.length === 1 ? "" : "s"} ${clusters.join(", ")}` : "no cluster (EKS_CLUSTERS is empty)");
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
