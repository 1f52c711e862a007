/**
 * The local configuration directory as meshctl sees it: every object with the file it lives in, and
 * atomic writes (temporary file, then rename) of one object per file `<kind>-<namespace>-<name>.yaml`.
 */
import { fileStem } from '../istiod/config/kinds.js';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { listConfigFiles } from '../istiod/config/config-files.js';
import { parseDocuments } from '../istiod/config/parse-documents.js';
import { keyOf, type ConfigObject } from '../istiod/config/types.js';
import type { ConfigIssue } from '../istiod/config/validate.js';
import { writeFileAtomic } from '../common/atomic-file.js';

export interface StoredObject {
  object: ConfigObject;
  file: string;
  /** How many objects that file holds (meshctl rewrites only single-object files). */
  objectsInFile: number;
}

export class ConfigDir {
  constructor(readonly dir: string) {}

  /** All valid objects (first file by name wins a duplicate) and the problems found. */
  async load(): Promise<{ objects: Map<string, StoredObject>; issues: ConfigIssue[] }> {
    const objects = new Map<string, StoredObject>();
    const issues: ConfigIssue[] = [];
    for (const file of await listConfigFiles(this.dir)) {
      // The cluster's controllers write and remove files too: one gone since the listing is skipped.
      const text = await readFile(join(this.dir, file), 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (text === undefined) continue;
      const parsed = parseDocuments(text, file);
      if (!parsed.ok) {
        issues.push(parsed.issue);
        continue;
      }
      const count = parsed.documents.filter((d) => d.result.status !== 'ignored').length;
      for (const d of parsed.documents) {
        if (d.result.status === 'invalid') issues.push(...d.result.issues);
        if (d.result.status !== 'valid' || objects.has(d.result.key)) continue;
        objects.set(d.result.key, { object: d.result.object, file, objectsInFile: count });
      }
    }
    return { objects, issues };
  }

  static fileNameFor(obj: ConfigObject): string {
    const ns = obj.metadata.namespace;
    return `${fileStem(obj.apiVersion, obj.kind)}-${ns ? `${ns}-` : ''}${obj.metadata.name}.yaml`;
  }

  /** Writes the object to `file` atomically. */
  async write(obj: ConfigObject, file: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(join(this.dir, file), stringify(obj), 0o644);
  }

  async remove(file: string): Promise<void> {
    await unlink(join(this.dir, file));
  }

  /**
   * The file an object should be written to: where it already lives if that file holds only it, else
   * the canonical name (with a suffix when the canonical name is taken by another object).
   */
  targetFile(obj: ConfigObject, objects: Map<string, StoredObject>): string | { error: string } {
    const key = keyOf(obj);
    const existing = objects.get(key);
    if (existing) {
      if (existing.objectsInFile === 1) return existing.file;
      return { error: `${existing.file} holds other objects too; edit that file by hand` };
    }
    const name = ConfigDir.fileNameFor(obj);
    const taken = [...objects.values()].some((s) => s.file === name);
    return taken ? name.replace(/\.yaml$/, `-${randomBytes(3).toString('hex')}.yaml`) : name;
  }
}
