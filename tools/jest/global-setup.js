// Builds dist/ (e2e tests run the real processes), the migrated template database and the agent-runtime
// image once per run.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async function globalSetup() {
  const root = path.resolve(__dirname, '../..');
  execFileSync(
    process.execPath,
    [require.resolve('@swc/cli/bin/swc.js'), 'apps', 'libs', 'tools', 'bench', '-d', 'dist', '--quiet'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  const { ensureTemplateDatabase, dockerAvailable, ensureRuntimeImage } = require(path.join(root, 'dist/libs/testing/src'));
  await ensureTemplateDatabase();
  // the execution tests run the agent-runtime image: rebuilt when the code in it changed (content-hashed)
  if (await dockerAvailable()) await ensureRuntimeImage();
};
