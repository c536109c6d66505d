import { StringDecoder } from 'node:string_decoder';

/**
 * Splits a watch stream into its lines as bytes arrive: one JSON event per
 * line, a line may arrive in many chunks and a chunk may hold many lines (or
 * end inside a multi-byte character). Only complete lines come out; what is
 * left when the stream breaks is a partial event and is dropped by the caller.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending: string[] = [];

  /** The complete lines that `chunk` finishes, without their newline; blank lines skipped. */
  push(chunk: Buffer): string[] {
    const text = this.decoder.write(chunk);
    const out: string[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      this.pending.push(text.slice(start, nl));
      const line = this.pending.join('').trim();
      this.pending = [];
      if (line !== '') out.push(line);
      start = nl + 1;
    }
    if (start < text.length) this.pending.push(text.slice(start));
    return out;
  }

  /** Characters received after the last newline. */
  get partial(): number {
    return this.pending.reduce((n, s) => n + s.length, 0);
  }
}
