import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root: the nearest folder above this file holding rigshift's package.json (works from src/ and dist/). */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'rigshift')
      return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the rigshift project root (package.json named rigshift)');
    dir = up;
  }
}

export const paths = {
  binDir: (): string => process.env.RIGSHIFT_CLUSTER_BIN ?? join(projectRoot(), '.cache', 'cluster', 'bin'),
  toolsDir: (): string => join(projectRoot(), '.cache', 'tools'),
  buildScript: (): string => join(projectRoot(), 'test', 'cluster', 'build.sh'),
  stagesFile: (): string => join(projectRoot(), 'test', 'cluster', 'kwok', 'stages', 'stages.yaml'),
  defaultStateDir: (): string => resolve(process.cwd(), '.rigshift', 'local'),
};
