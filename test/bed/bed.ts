// Alias of ./index (some callers import "test/bed/bed").
export * from "./index";
