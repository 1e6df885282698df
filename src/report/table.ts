/**
 * Text tables for the CLI: columns padded to their widest cell, and the last column (WHY, HINT,
 * STATUS) wrapped to the terminal's width when there is one. Pure.
 */

/** Columns padded to their widest cell; with `width`, the last column is wrapped to fit (see wrapText). */
export function formatTable(header: string[], rows: string[][], width?: number): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const indent = widths.slice(0, -1).reduce((sum, w) => sum + w + 2, 0);
  const render = (cells: string[]) => {
    const head = cells
      .slice(0, -1)
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ");
    const last = cells[cells.length - 1] ?? "";
    const prefix = cells.length > 1 ? `${head}  ` : "";
    if (width === undefined || prefix.length + last.length <= width) return [(prefix + last).trimEnd()];
    const [first = "", ...more] = wrapText(last, Math.max(width - indent, 24));
    return [(prefix + first).trimEnd(), ...more.map((l) => " ".repeat(indent) + l)];
  };
  return [render(header), ...rows.map(render)].flat();
}

/** The old name of formatTable, without wrapping. */
export function table(header: string[], rows: string[][]): string[] {
  return formatTable(header, rows);
}

/**
 * Splits `text` into lines of at most `width` characters at spaces; a longer word is cut. At most
 * 6 lines: the rest is shortened to "…" (the JSON Report keeps the whole text).
 */
export function wrapText(text: string, width: number, maxLines = 6): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    let w = word;
    while (w.length > width) {
      if (line) lines.push(line);
      lines.push(w.slice(0, width));
      w = w.slice(width);
      line = "";
    }
    if (!line) line = w;
    else if (line.length + 1 + w.length <= width) line += ` ${w}`;
    else {
      lines.push(line);
      line = w;
    }
  }
  if (line) lines.push(line);
  if (lines.length <= maxLines) return lines;
  const kept = lines.slice(0, maxLines);
  const lastLine = kept[maxLines - 1]!;
  kept[maxLines - 1] = `${lastLine.length + 2 > width ? lastLine.slice(0, width - 2) : lastLine} …`;
  return kept;
}
