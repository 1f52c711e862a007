/**
 * Writes a file so that a reader sees its old content or its new one, never a truncated one: the data
 * goes to a temporary file in the same directory (a name no config reader picks up), which then
 * replaces the file by rename. istiod rescans its config directory on every change, and a file caught
 * between truncation and write read as empty, i.e. as its objects deleted.
 */
import { randomBytes } from 'node:crypto';
import { chmod, rename, rm, writeFile } from 'node:fs/promises';

export async function writeFileAtomic(path: string, data: string, mode?: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, mode === undefined ? undefined : { mode });
    if (mode !== undefined) await chmod(tmp, mode); // the umask may have narrowed it
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
