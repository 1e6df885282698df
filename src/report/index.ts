// The structured result of one invocation (never secret material) and its text rendering,
// the doctor's checklist included.
export * from "./report";
export * from "./checks";
