/**
 * The shape rules of src/ and handlers/: no function longer than 60 lines of its own, none with
 * more than 5 parameters, no file longer than 400 lines.
 *
 * How lines are counted (read with the TypeScript compiler API, nothing is run):
 * - A file's length is its number of physical lines (as `wc -l` counts them, plus a last line
 *   without a newline).
 * - A function is every function-like node with a body: function declarations and expressions,
 *   arrow functions, methods, constructors, get and set accessors.
 * - Only code lines count: a line counts when a token of the program starts on it or a multi-line
 *   literal continues over it. Blank lines and lines holding only comments (JSDoc included) do
 *   not count.
 * - Each code line is counted for exactly one function: the innermost function-like node that
 *   contains the line's first token. So the lines of a nested function (a callback, a closure)
 *   are counted for that nested function, not for the one around it; the line on which the nested
 *   function starts (`items.map((item) => {`) stays with the outer function, since its first
 *   token is the outer function's code.
 * - Parameters are the declared parameters, a TypeScript `this` parameter excepted; an options
 *   object counts as one.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const MAX_OWN_LINES = 60;
const MAX_PARAMS = 5;
const MAX_FILE_LINES = 400;

const ROOT = resolve(".");

function tsFiles(dir: string, recurse: boolean): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return recurse ? tsFiles(path, true) : [];
    return e.name.endsWith(".ts") ? [path] : [];
  });
}

type FunctionNode = ts.SignatureDeclaration & { body?: ts.Node };

function isFunctionWithBody(node: ts.Node): node is FunctionNode {
  return (
    (ts.isFunctionDeclaration(node) ||
      ts.isFunctionExpression(node) ||
      ts.isArrowFunction(node) ||
      ts.isMethodDeclaration(node) ||
      ts.isConstructorDeclaration(node) ||
      ts.isGetAccessorDeclaration(node) ||
      ts.isSetAccessorDeclaration(node)) &&
    node.body !== undefined
  );
}

function nameOf(node: FunctionNode, source: ts.SourceFile): string {
  if (ts.isConstructorDeclaration(node)) return "constructor";
  if (node.name !== undefined) return node.name.getText(source);
  const parent = node.parent;
  if ((ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) && parent.name !== undefined) {
    return parent.name.getText(source);
  }
  return ts.isArrowFunction(node) ? "<arrow>" : "<function>";
}

/** line (0-based) → position of the first token starting on it, for every line a token starts on. */
function firstTokenPerLine(source: ts.SourceFile): Map<number, number> {
  const first = new Map<number, number>();
  const visit = (node: ts.Node): void => {
    if (node.kind >= ts.SyntaxKind.FirstJSDocNode && node.kind <= ts.SyntaxKind.LastJSDocNode) return;
    const children = node.getChildren(source);
    if (children.length === 0) {
      if (node.kind === ts.SyntaxKind.EndOfFileToken) return;
      const start = node.getStart(source);
      const line = source.getLineAndCharacterOfPosition(start).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (!first.has(line) || first.get(line)! > start) first.set(line, start);
      // a literal over several lines: its continuation lines are code lines too
      for (let l = line + 1; l <= end; l++) if (!first.has(l)) first.set(l, source.getPositionOfLineAndCharacter(l, 0));
      return;
    }
    for (const child of children) visit(child);
  };
  visit(source);
  return first;
}

interface Shape {
  file: string;
  line: number;
  name: string;
  ownLines: number;
  params: number;
}

function shapesOf(rel: string, text: string): { lines: number; functions: Shape[] } {
  const source = ts.createSourceFile(rel, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const functions: Shape[] = [];
  const byNode = new Map<ts.Node, Shape>();
  const collect = (node: ts.Node, outer: string | undefined): void => {
    let path = outer;
    if (isFunctionWithBody(node)) {
      const own = nameOf(node, source);
      path = outer === undefined ? own : `${outer} > ${own}`;
      const params = node.parameters.filter((p) => !(ts.isIdentifier(p.name) && p.name.text === "this")).length;
      const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
      const shape = { file: rel, line, name: path, ownLines: 0, params };
      functions.push(shape);
      byNode.set(node, shape);
    }
    ts.forEachChild(node, (child) => collect(child, path));
  };
  collect(source, undefined);

  /** The innermost function-like node containing pos. */
  const owner = (pos: number): Shape | undefined => {
    let found: Shape | undefined;
    const descend = (node: ts.Node): void => {
      if (pos < node.getStart(source) || pos >= node.getEnd()) return;
      found = byNode.get(node) ?? found;
      ts.forEachChild(node, descend);
    };
    descend(source);
    return found;
  };
  for (const pos of firstTokenPerLine(source).values()) {
    const shape = owner(pos);
    if (shape !== undefined) shape.ownLines++;
  }
  const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  return { lines, functions };
}

interface Offender {
  key: string;
  text: string;
}

function offenders(files: { rel: string; text: string }[]): Offender[] {
  const found: Offender[] = [];
  for (const { rel, text } of files) {
    const { lines, functions } = shapesOf(rel, text);
    if (lines > MAX_FILE_LINES) found.push({ key: `${rel} ${rel}`, text: `${rel}: file of ${lines} lines` });
    for (const f of functions) {
      const over: string[] = [];
      if (f.ownLines > MAX_OWN_LINES) over.push(`${f.ownLines} lines`);
      if (f.params > MAX_PARAMS) over.push(`${f.params} params`);
      if (over.length > 0) found.push({ key: `${f.file} ${f.name}`, text: `${f.file}:${f.line} ${f.name}: ${over.join(" / ")}` });
    }
  }
  return found;
}

const allFiles = (): { rel: string; text: string }[] =>
  [...tsFiles(resolve("src"), true), ...tsFiles(resolve("handlers"), false)].map((file) => ({
    rel: relative(ROOT, file),
    text: readFileSync(file, "utf8"),
  }));

/** A planted sample: the counts below are those the rule above gives, by hand. */
const SAMPLE = [
  "/** a JSDoc line: not counted */", // 1
  "export function outer(a: number): number {", // 2  outer 1
  "  // a comment line: not counted", // 3
  "", // 4
  "  function inner(b: number): number {", // 5  inner 1 (its first token is the inner declaration)
  "    const c = b + 1;", // 6  inner 2
  "    return c;", // 7  inner 3
  "  }", // 8  inner 4
  "  const xs = [a].map((x) => {", // 9  outer 2
  "    return x;", // 10 arrow 1
  "  });", // 11 arrow 2 (its first token, the brace, is the arrow's)
  "  return inner(xs[0]!) + `multi", // 12 outer 3
  "line`.length;", // 13 outer 4 (a literal continued)
  "}", // 14 outer 5
  "export const many = (a: 1, b: 2, c: 3, d: 4, e: 5, f: 6): number =>", // 15 (top-level code: no function)
  "  a + b + c + d + e + f;", // 16 many 1
  "class K {", // 17
  "  constructor(this: K, a: 1, b: 2, c: 3, d: 4, e: 5) {}", // 18 constructor 1 (this is not counted)
  "  get g(): number { return 1; }", // 19 g 1
  "}", // 20
].join("\n");

describe("code shape (src/ and handlers/)", () => {
  it(`no function over ${MAX_OWN_LINES} own lines or ${MAX_PARAMS} parameters, no file over ${MAX_FILE_LINES} lines`, () => {
    const left = offenders(allFiles());
    expect(left.map((o) => o.text)).toEqual([]);
  });

  it("the counter counts own lines, not nested ones, and skips comments and blank lines", () => {
    const { lines, functions } = shapesOf("sample.ts", SAMPLE);
    const byName = Object.fromEntries(functions.map((f) => [f.name, f]));
    expect(lines).toBe(20);
    expect(byName["outer"]).toMatchObject({ line: 2, ownLines: 5, params: 1 });
    expect(byName["outer > inner"]).toMatchObject({ line: 5, ownLines: 4, params: 1 });
    expect(byName["outer > <arrow>"]).toMatchObject({ line: 9, ownLines: 2, params: 1 });
    expect(byName["many"]).toMatchObject({ line: 15, ownLines: 1, params: 6 });
    expect(byName["constructor"]).toMatchObject({ line: 18, ownLines: 1, params: 5 });
    expect(byName["g"]).toMatchObject({ line: 19, ownLines: 1, params: 0 });
  });

  it("an offender is reported with file, line, name and what is over", () => {
    const body = Array.from({ length: 61 }, (_, i) => `  const v${i} = ${i};`).join("\n");
    const text = `function long(): void {\n${body}\n}\n${SAMPLE}\n` + "\n".repeat(400);
    expect(offenders([{ rel: "x.ts", text }]).map((o) => o.text)).toEqual(["x.ts: file of 483 lines", "x.ts:1 long: 63 lines", "x.ts:78 many: 6 params"]);
  });
});
