/**
 * Plain-text tables as istioctl and kubectl print them: a header row, left-aligned columns, a fixed gap
 * between columns and no trailing spaces.
 */
export interface TableOptions {
  /** Spaces between columns (istioctl's ztunnel-config tables use 1, proxy-status 5, kubectl 3). */
  gap?: number;
}

export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  o: TableOptions = {},
): string {
  const gap = o.gap ?? 1;
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const lines = all.map((r) =>
    headers
      .map((_, i) => {
        const cell = r[i] ?? '';
        return i === headers.length - 1 ? cell : cell.padEnd(widths[i]! + gap);
      })
      .join('')
      .trimEnd(),
  );
  return `${lines.join('\n')}\n`;
}
