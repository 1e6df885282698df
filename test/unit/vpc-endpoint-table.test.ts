/**
 * docs/deploy.md's VPC endpoint table stays true: every AWS SDK command the code in src/ sends
 * is named in the row of its service, every service client src/ imports has a row, and the
 * registry's own HTTP calls (GET https://<registry>/v2/…) have theirs.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

/** The row of the table each SDK client package belongs in (its first cell). */
const ROW_OF: Record<string, string> = {
  "client-ecr": "ECR API",
  "client-ecr-public": "ECR Public",
  "client-secrets-manager": "Secrets Manager",
  "client-eks": "EKS",
  "client-sts": "STS",
  "client-lambda": "Lambda",
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** client package → the commands src/ sends with it (`new XCommand(`, found among the exports of a client its file refers to). */
async function sdkCalls(): Promise<Map<string, Set<string>>> {
  const texts = sources("src").map((f) => readFileSync(f, "utf8"));
  const packages = [...new Set(texts.flatMap((t) => [...t.matchAll(/"@aws-sdk\/(client-[a-z-]+)"/g)].map((m) => m[1]!)))];
  const exports = new Map<string, Set<string>>();
  for (const name of packages) exports.set(name, new Set(Object.keys((await import(`@aws-sdk/${name}`)) as object)));
  const calls = new Map<string, Set<string>>();
  // A command is the client's that its own file refers to (TagResourceCommand is in several packages).
  const used = texts.flatMap((t) => {
    const own = packages.filter((p) => t.includes(`"@aws-sdk/${p}"`));
    return [...t.matchAll(/new ([A-Z][A-Za-z]+)Command\(/g)].map((m) => ({ command: m[1]!, own }));
  });
  for (const { command, own } of used) {
    const owner = own.find((p) => exports.get(p)!.has(`${command}Command`));
    expect(owner, `${command}Command: no @aws-sdk client of src/ exports it`).toBeDefined();
    calls.set(owner!, (calls.get(owner!) ?? new Set()).add(command));
  }
  for (const name of packages) if (!calls.has(name)) calls.set(name, new Set());
  return calls;
}

/** The table under "Private clusters: VPC attachment": first cell → the whole row. */
function endpointTable(): Map<string, string> {
  const doc = readFileSync("docs/deploy.md", "utf8");
  const section = doc.slice(doc.indexOf("### Private clusters: VPC attachment"));
  const rows = section
    .slice(0, section.indexOf("\n\n", section.indexOf("| service |")))
    .split("\n")
    .filter((l) => l.startsWith("| "));
  return new Map(rows.slice(1).map((row) => [row.split("|")[1]!.trim(), row]));
}

describe("docs/deploy.md VPC endpoint table", () => {
  const table = endpointTable();
  let calls: Map<string, Set<string>>;
  beforeAll(async () => {
    calls = await sdkCalls();
  });

  it("finds the SDK calls in src/ (the scan itself works)", () => {
    expect(calls.get("client-ecr")).toContain("GetAuthorizationToken");
    expect(calls.get("client-sts")).toEqual(new Set(["AssumeRole", "GetCallerIdentity"]));
    expect(calls.get("client-secrets-manager")).toContain("ReplicateSecretToRegions");
  });

  it("every service client src/ imports has a row, and every command it sends is named in that row", () => {
    for (const [client, commands] of calls) {
      const rowName = ROW_OF[client];
      expect(rowName, `${client}: add it to ROW_OF and to the table`).toBeDefined();
      const row = table.get(rowName!);
      expect(row, `docs/deploy.md has no "${rowName}" row`).toBeDefined();
      for (const command of commands) expect(row, `the ${rowName} row does not name ${command}`).toContain(`\`${command}\``);
    }
  });

  it("the registry's own HTTP calls (the doctor's GET /v2/) have the ecr.dkr row", () => {
    const registryCalls = sources("src").some((f) => /path: "\/v2\/"/.test(readFileSync(f, "utf8")));
    expect(registryCalls).toBe(true);
    expect(table.get("ECR registry")).toMatch(/com\.amazonaws\.<region>\.ecr\.dkr.*GET https:\/\/<registry>\/v2\//);
  });
});
