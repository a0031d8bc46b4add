import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The control plane's version: its package.json (next to dist/ in the image, in the repository in development). */
function readVersion(): string {
  for (const up of ['../../..', '../../../..', '../..']) {
    try {
      const pkg = JSON.parse(readFileSync(join(__dirname, up, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.version && (pkg.name === 'agentfleet' || pkg.name === '@agentfleet/control-plane'))
        return pkg.version;
    } catch {
      // next candidate
    }
  }
  return process.env['npm_package_version'] ?? '0.0.0';
}

export const CONTROL_PLANE_VERSION = readVersion();
