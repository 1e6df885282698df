// The structured result of one invocation (never secret material) and its text rendering.
export * from "./report";
