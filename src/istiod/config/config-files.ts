/**
 * Which files of a configuration directory hold configuration: `*.yaml`, `*.yml`, `*.json`, not hidden
 * (editors' and meshctl's temporary files start with a dot), sorted by name.
 */
import { readdir } from 'node:fs/promises';
import { errorCode } from '../../common/errors.js';

export function isConfigFileName(name: string): boolean {
  return !name.startsWith('.') && /\.(ya?ml|json)$/i.test(name);
}

/** The configuration file names in `dir`, sorted; an empty list when the directory does not exist. */
export async function listConfigFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && isConfigFileName(e.name))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR') return [];
    throw err;
  }
}
