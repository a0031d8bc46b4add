import { LineSplitter } from './line-splitter';

function split(chunks: (string | Buffer)[], maxLineLength?: number): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((l) => lines.push(l), maxLineLength);
  for (const c of chunks) splitter.push(typeof c === 'string' ? Buffer.from(c) : c);
  splitter.end();
  return lines;
}

describe('LineSplitter', () => {
  it('delivers complete lines in order, joining a line cut across chunks', () => {
    expect(split(['a\nb', 'c\n', '\nd\n'])).toEqual(['a', 'bc', '', 'd']);
  });

  it('delivers a last line without a newline at the end, and nothing for a trailing newline', () => {
    expect(split(['x\nlast'])).toEqual(['x', 'last']);
    expect(split(['x\n'])).toEqual(['x']);
    expect(split([])).toEqual([]);
  });

  it('drops the carriage return of CRLF line ends', () => {
    expect(split(['one\r\ntwo\r', '\n'])).toEqual(['one', 'two']);
  });

  it('joins a UTF-8 character whose bytes arrive in two chunks', () => {
    const e = Buffer.from('é\n');
    expect(split([e.subarray(0, 1), e.subarray(1)])).toEqual(['é']);
  });

  it('cuts a run of output without newlines into pieces of the maximum length', () => {
    expect(split(['abcdefg', 'h\nij'], 3)).toEqual(['abc', 'def', 'gh', 'ij']);
  });

  it('ignores bytes pushed after end()', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((l) => lines.push(l));
    splitter.push(Buffer.from('a'));
    splitter.end();
    splitter.push(Buffer.from('b\n'));
    splitter.end();
    expect(lines).toEqual(['a']);
  });
});
