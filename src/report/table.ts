/**
 * Text tables for the CLI: columns padded to their widest cell, and, on a terminal, every line
 * kept within its width. The last column (WHY, HINT, STATUS) is wrapped under itself; when the
 * columns before it leave it too little room, each row is stacked: its leading cells on one line
 * (wrapped if they do not fit) and the last cell on the lines below, indented. Nothing is ever
 * cut: wrapping only moves words. Without a width (a pipe, a log) nothing is wrapped. Pure.
 */

/** The last column gets at least this many characters beside the others, else the rows are stacked. */
const MIN_LAST_COLUMN = 32;
/** Indentation of a stacked row's last cell. */
const STACK_INDENT = 4;

/** Columns padded to their widest cell; with `width`, every line fits in it (see the module comment). */
export function formatTable(header: string[], rows: string[][], width?: number): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const indent = widths.slice(0, -1).reduce((sum, w) => sum + w + 2, 0);
  const stacked = width !== undefined && header.length > 1 && width - indent < MIN_LAST_COLUMN;
  const render = (cells: string[]): string[] => {
    const leading = cells.slice(0, -1);
    const last = cells[cells.length - 1] ?? "";
    const head = leading.map((c, i) => c.padEnd(widths[i]!)).join("  ");
    const prefix = leading.length > 0 ? `${head}  ` : "";
    if (width === undefined || prefix.length + last.length <= width) return [(prefix + last).trimEnd()];
    if (stacked) {
      const lead = head.trimEnd().length <= width ? [head.trimEnd()] : wrapText(leading.join("  "), width);
      return [...lead, ...wrapText(last, Math.max(width - STACK_INDENT, 1)).map((l) => " ".repeat(STACK_INDENT) + l)];
    }
    const [first = "", ...more] = wrapText(last, width - indent);
    return [(prefix + first).trimEnd(), ...more.map((l) => " ".repeat(indent) + l)];
  };
  return [render(header), ...rows.map(render)].flat();
}

/** The old name of formatTable, without wrapping. */
export function table(header: string[], rows: string[][]): string[] {
  return formatTable(header, rows);
}

/**
 * Splits `text` into lines of at most `width` characters at spaces; a word longer than the width
 * is split across lines (never dropped). Every word of the text is kept: the whole text reads
 * the same with the line breaks turned back into spaces.
 */
export function wrapText(text: string, width: number): string[] {
  const max = Math.max(width, 1);
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    let w = word;
    while (w.length > max) {
      if (line) lines.push(line);
      lines.push(w.slice(0, max));
      w = w.slice(max);
      line = "";
    }
    if (!line) line = w;
    else if (line.length + 1 + w.length <= max) line += ` ${w}`;
    else {
      lines.push(line);
      line = w;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * Every line of `text` within `width`: a longer line (a note, an error) is wrapped, its
 * continuation indented two more than the line itself. Shorter lines are left as they are.
 */
export function fitToWidth(text: string, width: number): string {
  return text
    .split("\n")
    .flatMap((line) => {
      if (line.length <= width) return [line];
      const lead = Math.min(line.length - line.trimStart().length, Math.floor(width / 2));
      const [first = "", ...more] = wrapText(line.trimStart(), width - lead);
      const hang = Math.min(lead + 2, Math.floor(width / 2));
      const rest = more.length > 0 ? wrapText(more.join(" "), width - hang) : [];
      return [" ".repeat(lead) + first, ...rest.map((l) => " ".repeat(hang) + l)];
    })
    .join("\n");
}
