// The packaged agent (tools/agent-bundle) as a server runs it: built into an install directory
// (/opt/rollgate-agent of the systemd unit, here under the test's directory), run with the unit's
// ExecStart flags, and replaced in place by a newer build as a package manager would.
import { copyFile, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '@rollgate/demo-fleet';

/** Builds the agent bundle (and its heavy-work child beside it) into `outDir`; `version` default apps/agent's. */
export async function buildAgentPackage(
  outDir: string,
  version?: string,
): Promise<{ dir: string; bundle: string }> {
  // A plain script beside the workspace packages, loaded by path.
  const build = (await import(
    pathToFileURL(join(ROOT, 'tools/agent-bundle/build.mjs')).href
  )) as typeof import('../../agent-bundle/build.mjs');
  const built = await build.buildAgentBundle({ outDir, ...(version ? { version } : {}) });
  return { dir: outDir, bundle: built.bundle };
}

/**
 * Installs every file of a build over an installed package: each is copied beside its target and
 * renamed over it (atomic per file), so a process starting meanwhile never reads half a file.
 */
export async function installAgentPackage(fromDir: string, toDir: string): Promise<string[]> {
  const files = await readdir(fromDir);
  for (const f of files) {
    await copyFile(join(fromDir, f), join(toDir, `.${f}.new`));
    await rename(join(toDir, `.${f}.new`), join(toDir, f));
  }
  return files;
}

/** ExecStart of tools/agent-bundle/rollgate-agent.service for `bundle` and an agent config. */
export function unitCommand(bundle: string, configPath: string): { command: string; args: string[] } {
  return {
    command: process.execPath,
    args: ['--lite-mode', '--max-semi-space-size=1', bundle, '--config', configPath],
  };
}
