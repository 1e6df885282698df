// kubectl's built-in kustomize on infra/k8s, and overlays written as a user writes them (outside
// the repository, referring to its base and components, the pull secret's name set once).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const K8S = resolve(fileURLToPath(new URL("../../infra/k8s", import.meta.url)));
const run = promisify(execFile);

/** `kubectl kustomize DIR`: the rendered YAML. */
export async function kustomize(dir: string): Promise<string> {
  const { stdout } = await run("kubectl", ["kustomize", dir], { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/**
 * Writes an overlay in a new temporary directory (the caller removes it): infra/k8s/base, the
 * name `pullSecretName` in its own pull-secret-name.yaml, and `components` (paths under infra/k8s,
 * components/pull-secret-name last). kustomize takes no absolute paths: they are made relative.
 */
export function writeOverlay(pullSecretName: string, components: readonly string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "kustomize-overlay-"));
  const nameFile = readFileSync(join(K8S, "fallback/pull-secret-name.yaml"), "utf8");
  if (!nameFile.includes("  name: ecr-pull-secret\n")) throw new Error("infra/k8s/fallback/pull-secret-name.yaml no longer sets name: ecr-pull-secret");
  writeFileSync(join(dir, "pull-secret-name.yaml"), nameFile.replace("  name: ecr-pull-secret\n", `  name: ${pullSecretName}\n`));
  const list = (paths: readonly string[]) => paths.map((p) => `  - ${relative(dir, join(K8S, p))}\n`).join("");
  writeFileSync(
    join(dir, "kustomization.yaml"),
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n${list(["base"])}  - pull-secret-name.yaml\ncomponents:\n${list(components)}`,
  );
  return dir;
}
