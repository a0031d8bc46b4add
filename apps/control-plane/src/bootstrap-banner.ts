/** Printed once, to stdout, never through the logger (log pipelines keep what they see). */
export function printBootstrapKey(org: string, key: string) {
  process.stdout.write(
    [
      '',
      '================================================================',
      ` AgentFleet bootstrap: organization "${org}"`,
      ' Instance-admin API key (shown once, store it now):',
      '',
      `   ${key}`,
      '',
      '================================================================',
      '',
    ].join('\n') + '\n',
  );
}
