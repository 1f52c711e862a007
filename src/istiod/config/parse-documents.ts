/**
 * Turns the text of a YAML or JSON file (several `---` documents, or a `kind: List`) into validated
 * results, each with its origin, or one issue when the file cannot be parsed at all.
 */
import { parseAllDocuments } from 'yaml';
import { isObj } from './fields.js';
import {
  makeIssue,
  validateObject,
  type ConfigIssue,
  type DocumentOrigin,
  type ValidationResult,
} from './validate.js';

export interface ParsedDocument {
  origin: DocumentOrigin;
  raw: unknown;
  result: ValidationResult;
}

export type ParsedFile = { ok: true; documents: ParsedDocument[] } | { ok: false; issue: ConfigIssue };

export function parseDocuments(text: string, file?: string): ParsedFile {
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const documents: ParsedDocument[] = [];
  for (let i = 0; i < list.length; i++) {
    const doc = list[i]!;
    const error = doc.errors[0];
    if (error) {
      const pos = error.linePos?.[0];
      const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
      const first = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
      const message = `not valid YAML${where}: ${first}`;
      return { ok: false, issue: makeIssue({ file, document: i + 1 }, {}, '', message) };
    }
    const raw: unknown = doc.toJS({ maxAliasCount: 100 });
    if (raw === null || raw === undefined) continue;
    if (isObj(raw) && Array.isArray(raw.items) && typeof raw.kind === 'string' && raw.kind.endsWith('List')) {
      raw.items.forEach((item: unknown, j) => {
        const origin = { file, document: i + 1, item: j + 1 };
        documents.push({ origin, raw: item, result: validateObject(item, origin) });
      });
      continue;
    }
    const origin = { file, document: i + 1 };
    documents.push({ origin, raw, result: validateObject(raw, origin) });
  }
  return { ok: true, documents };
}
