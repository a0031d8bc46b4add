import { type DockerOutputStream, DockerStreamDemuxer } from './docker-stream-demuxer';

function frame(type: number, payload: string): Buffer {
  const body = Buffer.from(payload);
  const header = Buffer.alloc(8);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

function demux(chunks: Buffer[]) {
  const frames: [DockerOutputStream, string][] = [];
  const demuxer = new DockerStreamDemuxer((stream, payload) => frames.push([stream, payload.toString()]));
  for (const c of chunks) demuxer.push(c);
  return { frames, buffered: demuxer.bufferedBytes };
}

describe('DockerStreamDemuxer', () => {
  it('routes stdout and stderr frames in order, several per chunk', () => {
    const { frames, buffered } = demux([
      Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n'), frame(1, 'more')]),
    ]);
    expect(frames).toEqual([
      ['stdout', 'out\n'],
      ['stderr', 'err\n'],
      ['stdout', 'more'],
    ]);
    expect(buffered).toBe(0);
  });

  it('reassembles headers and payloads cut anywhere, down to one byte per chunk', () => {
    const all = Buffer.concat([frame(1, 'hello'), frame(2, 'world'), frame(1, '')]);
    const bytes = [...all].map((b) => Buffer.from([b]));
    expect(demux(bytes).frames).toEqual([
      ['stdout', 'hello'],
      ['stderr', 'world'],
      ['stdout', ''],
    ]);
  });

  it('treats a daemon error frame as stderr and drops stdin frames', () => {
    expect(demux([Buffer.concat([frame(0, 'in'), frame(3, 'daemon says no')])]).frames).toEqual([
      ['stderr', 'daemon says no'],
    ]);
  });

  it('keeps an unfinished frame buffered (a stream cut off mid-frame)', () => {
    const whole = frame(1, 'abcdef');
    const { frames, buffered } = demux([whole.subarray(0, 10)]);
    expect(frames).toEqual([]);
    expect(buffered).toBe(10);
  });
});
