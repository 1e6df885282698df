/**
 * The streaming LIST reader (src/kube/list-stream.ts): every element of `items` handed on as it
 * completes, whatever the chunk boundaries (inside strings, escapes, multi-byte characters), the
 * rest of the document parsed at the end; anything that is not a LIST is an error.
 */
import { describe, expect, it } from "vitest";
import { ListStream } from "../../src/kube/list-stream";

/** Feeds `text` in pieces cut at `cuts`, returns the items handed on and the rest. */
function read(text: string, cuts: number[]): { items: unknown[]; rest: unknown } {
  const items: unknown[] = [];
  const stream = new ListStream<unknown>((item) => items.push(item));
  let at = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < text.length)].sort((a, b) => a - b)) {
    stream.feed(text.slice(at, cut));
    at = cut;
  }
  stream.feed(text.slice(at));
  return { items, rest: stream.end() };
}

const tricky = {
  kind: "SecretList",
  apiVersion: "v1",
  metadata: { resourceVersion: "12", continue: "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIsInN0YXJ0IjoiYi9cdTAwMDAifQ" },
  items: [
    { metadata: { name: "a", namespace: "n1", labels: { items: "[not] {an} array", q: 'quote " inside', b: "back\\slash\\" } }, data: { k: "x".repeat(300) } },
    { metadata: { name: "b", namespace: "n2", annotations: { "x/y": '{"items":[1,2]}', u: "ünïcödé ✓ 🚀" } }, type: "Opaque" },
    { metadata: { name: "c" }, nested: [[{ "}": "]" }], [], {}], empty: {} },
  ],
};

describe("ListStream", () => {
  it("hands on every element and keeps the rest, whatever the chunk boundaries", () => {
    const text = JSON.stringify(tricky, null, 1);
    const expectedRest = { ...tricky, items: [] };
    // Every single cut point, then random sets of cuts.
    for (let cut = 0; cut <= text.length; cut++) expect(read(text, [cut])).toEqual({ items: tricky.items, rest: expectedRest });
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * text.length;
    for (let round = 0; round < 200; round++) {
      const cuts = Array.from({ length: 1 + (round % 40) }, () => Math.floor(random()));
      expect(read(text, cuts)).toEqual({ items: tricky.items, rest: expectedRest });
    }
  });

  it("an empty list, and items before metadata", () => {
    expect(read('{"kind":"NamespaceList","items":[],"metadata":{}}', [3, 20])).toEqual({ items: [], rest: { kind: "NamespaceList", items: [], metadata: {} } });
    expect(read('{"items":[{"a":1}],"metadata":{"continue":"t"}}', [12])).toEqual({ items: [{ a: 1 }], rest: { items: [], metadata: { continue: "t" } } });
  });

  it("hands each element on before the rest of the page has arrived", () => {
    const items: unknown[] = [];
    const stream = new ListStream<unknown>((item) => items.push(item));
    stream.feed('{"kind":"List","items":[{"n":1},{"n"');
    expect(items).toEqual([{ n: 1 }]);
    stream.feed(":2}]}");
    expect(items).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it("a document that is not a LIST is an error, never an empty list", () => {
    for (const text of ["{}", '{"items":null}', '{"metadata":{"items":[]}}', "[]", '{"items":[1,2]}', '{"items":[{"a":1}', '{"items":[{"a":}]}', "<html>"]) {
      expect(() => read(text, [5]), text).toThrow();
    }
  });
});
