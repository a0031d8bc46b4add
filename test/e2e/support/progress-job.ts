/**
 * A `node -e` program for the agent-runtime image: `steps` progress events a second apart (messages
 * `step 1` … `step N`), then the result `{ steps: N }` — a few seconds of work with a history to check.
 */
export function progressJobScript(steps: number): string {
  return [
    'const p = (o) => console.log(JSON.stringify({ v: 1, ...o }));',
    'let i = 0;',
    'const t = setInterval(() => {',
    '  i++;',
    `  p({ type: 'progress', progress: i / ${steps}, message: 'step ' + i });`,
    `  if (i === ${steps}) { clearInterval(t); p({ type: 'result', output: { steps: i } }); }`,
    '}, 1000);',
  ].join(' ');
}

/** The messages of the progress events `progressJobScript(steps)` prints, in order. */
export function progressMessages(steps: number): string[] {
  return Array.from({ length: steps }, (_, i) => `step ${i + 1}`);
}
