import { existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const toolsBin = join(projectRoot, '.tools', 'bin');

/** Finds an executable on PATH. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** A tool installed by scripts/provision.sh, or the user's own on PATH. */
export function tool(
  name: 'temporal' | 'temporal-test-server' | 'ferretdb' | 'mongod' | 'compose-check' | 'helm' | 'k8s-validate',
): string {
  const provisioned = join(toolsBin, name);
  if (name !== 'mongod' && existsSync(provisioned)) return provisioned;
  const found = onPath(name);
  if (found) return found;
  throw new Error(`${name} is not installed: run scripts/provision.sh`);
}
