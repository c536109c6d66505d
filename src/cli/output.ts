import { ErrorCodes } from '../core/errors.js';

/** Plain-text tables: columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export type OutputFormat = 'table' | 'json';

export function outputFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === 'table' || value === 'wide') return 'table';
  if (value === 'json') return 'json';
  throw new UsageError(
    `-o ${value}: unknown output format`,
    'use -o table (the default) or -o json',
  );
}

/** A mistake in how a command was called: printed with its fix, exit code 2. */
export class UsageError extends Error {
  readonly code = ErrorCodes.USAGE;

  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}
