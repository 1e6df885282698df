/**
 * JSON a test reads back (kubectl `-o json`, a watch event, a fixture it mutates by path) and
 * navigates freely before asserting on values. The one named escape from `no-explicit-any` in the
 * tests, so every untyped read is findable by this name.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- untyped JSON, asserted by value
export type LooseJson = any;
