import { StringDecoder } from 'node:string_decoder';

/** Longest line delivered whole; a longer run of output without a newline arrives in pieces of this size. */
export const DEFAULT_MAX_LINE_LENGTH = 1024 * 1024;

/**
 * Turns a byte stream into complete lines, in order, without their newline (`\n` or `\r\n`).
 * Bytes of one UTF-8 character split across chunks are joined before decoding; `end()` delivers a last
 * line that has no newline. The length cap bounds memory when a program prints without newlines.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private ended = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineLength = DEFAULT_MAX_LINE_LENGTH,
  ) {}

  push(chunk: Buffer): void {
    if (this.ended) return;
    this.take(this.decoder.write(chunk));
  }

  /** Delivers what is left; later pushes are ignored (a late chunk after the end is not a new line). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest.length) this.emit(rest);
  }

  private take(text: string): void {
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const line = this.partial + text.slice(start, nl);
      this.partial = '';
      this.emit(line.endsWith('\r') ? line.slice(0, -1) : line);
      start = nl + 1;
    }
    this.partial += text.slice(start);
    while (this.partial.length > this.maxLineLength) {
      this.onLine(this.partial.slice(0, this.maxLineLength));
      this.partial = this.partial.slice(this.maxLineLength);
    }
  }

  private emit(line: string): void {
    for (let i = 0; i < line.length; i += this.maxLineLength)
      this.onLine(line.slice(i, i + this.maxLineLength));
    if (line.length === 0) this.onLine('');
  }
}
