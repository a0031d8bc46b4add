/** Which output a frame of Docker's multiplexed attach/logs stream belongs to. */
export type DockerOutputStream = 'stdout' | 'stderr';

const HEADER_BYTES = 8;

/**
 * Splits Docker's multiplexed stream (containers without a TTY): frames of an 8-byte header — stream type
 * (0 stdin, 1 stdout, 2 stderr, 3 daemon error), three zero bytes, payload length big-endian — then
 * the payload. Headers and payloads may be cut anywhere across chunks; frames come out whole and in order.
 */
export class DockerStreamDemuxer {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (stream: DockerOutputStream, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    while (this.pending.length - offset >= HEADER_BYTES) {
      const type = this.pending.readUInt8(offset);
      const length = this.pending.readUInt32BE(offset + 4);
      if (this.pending.length - offset - HEADER_BYTES < length) break;
      const payload = this.pending.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length);
      offset += HEADER_BYTES + length;
      // stdin echoes nothing we asked for; a daemon error (3) is diagnostics, like stderr
      if (type === 1) this.onFrame('stdout', payload);
      else if (type === 2 || type === 3) this.onFrame('stderr', payload);
    }
    // copy the remainder so the (possibly large) chunk it came from can be collected
    this.pending =
      offset === this.pending.length ? Buffer.alloc(0) : Buffer.from(this.pending.subarray(offset));
  }

  /** Bytes of an unfinished frame (non-zero at the end of a stream means it was cut off). */
  get bufferedBytes(): number {
    return this.pending.length;
  }
}
