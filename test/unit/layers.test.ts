/**
 * The house rules of src/ (docs/development.md "Layout"): no import cycle between modules, no
 * folder imports a folder above it, and no folder has an index.ts (modules are imported by their
 * own path; a barrel nothing imports only drifts from the folder it describes). Reads the import
 * statements of every src/ file.
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve("src");

/** Bottom to top: a folder may import itself and the folders before it, never one after it. */
const LAYERS: string[][] = [
  ["shared"],
  ["transport"],
  ["formats"],
  ["config"],
  ["request"],
  ["report"],
  ["rotation"],
  ["kube", "eks", "fleet"],
  ["diagnose"],
  ["run"],
  ["clusters"],
  ["doctor"],
  ["app"],
  ["cli"],
];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

function resolveImport(from: string, spec: string, all: Set<string>): string | undefined {
  const base = resolve(dirname(from), spec);
  return [`${base}.ts`, base].find((f) => all.has(f));
}

/** file → the src files it imports (static, type-only and dynamic). */
function graph(): Map<string, string[]> {
  const all = new Set(files(SRC));
  const edges = new Map<string, string[]>();
  for (const file of all) {
    const text = readFileSync(file, "utf8");
    const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)"(\.{1,2}\/[^"]+)"/g)].map((m) => m[1]!);
    edges.set(file, [...new Set(specs.map((s) => resolveImport(file, s, all)).filter((f): f is string => f !== undefined))]);
  }
  return edges;
}

const layerOf = (file: string): number => {
  const folder = relative(SRC, file).split("/")[0]!;
  return LAYERS.findIndex((layer) => layer.includes(folder));
};

describe("src/ layout", () => {
  const edges = graph();

  it("every src/ file sits in a folder of a known layer", () => {
    const unplaced = [...edges.keys()].filter((f) => layerOf(f) < 0).map((f) => relative(SRC, f));
    expect(unplaced).toEqual([]);
  });

  it("no folder imports a folder above it", () => {
    const upward: string[] = [];
    for (const [file, targets] of edges) {
      for (const target of targets) if (layerOf(target) > layerOf(file)) upward.push(`${relative(SRC, file)} → ${relative(SRC, target)}`);
    }
    expect(upward).toEqual([]);
  });

  it("no src/ folder has an index.ts (import a module by its own path)", () => {
    const everything = readdirSync(SRC, { recursive: true, encoding: "utf8" });
    const barrels = everything.filter((f) => /^index\.[cm]?[jt]sx?$/.test(basename(f))).sort();
    expect(barrels).toEqual([]);
  });

  it("no import cycle between modules", () => {
    const cycles: string[] = [];
    const state = new Map<string, "visiting" | "done">();
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "visiting") {
        cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(" → "));
        return;
      }
      state.set(file, "visiting");
      for (const next of edges.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, "done");
    };
    for (const file of edges.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
