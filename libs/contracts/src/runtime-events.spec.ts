import { parseRuntimeLine } from './runtime-events';

describe('runtime event lines', () => {
  it('parses each event type and keeps anything else as a log line', () => {
    expect(parseRuntimeLine('{"v":1,"type":"progress","progress":0.5}')).toEqual({
      v: 1,
      type: 'progress',
      progress: 0.5,
    });
    expect(parseRuntimeLine('{"v":1,"type":"result","output":{"a":1}}')).toEqual({
      v: 1,
      type: 'result',
      output: { a: 1 },
    });
    expect(parseRuntimeLine('hello')).toEqual({ v: 1, type: 'log', level: 'info', message: 'hello' });
    expect(parseRuntimeLine('{"v":2,"type":"progress","progress":0.5}').type).toBe('log');
    expect(parseRuntimeLine('{not json').type).toBe('log');
  });

  it('keeps a result larger than the log limit whole', () => {
    const big = 'x'.repeat(50_000);
    expect(parseRuntimeLine(JSON.stringify({ v: 1, type: 'result', output: big }))).toEqual({
      v: 1,
      type: 'result',
      output: big,
    });
  });

  it('cuts a long plain line to 16,000 characters', () => {
    const e = parseRuntimeLine('y'.repeat(20_000));
    expect(e.type === 'log' && e.message.length).toBe(16_000);
  });
});
