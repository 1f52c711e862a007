import type { IncomingHttpHeaders } from 'node:http2';
import type { HeaderList } from './hpack.js';

const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path', ':protocol']);
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Checks a decoded header list as RFC 9113 section 8.2-8.3 asks and returns it as an object (repeated
 * fields joined with ", "), or a string saying why the message is malformed (answered RST_STREAM
 * PROTOCOL_ERROR).
 */
export function validateHeaders(list: HeaderList, request: boolean): IncomingHttpHeaders | string {
  const out: IncomingHttpHeaders = {};
  let regularSeen = false;
  for (const [name, value] of list) {
    if (name.length === 0) return 'empty field name';
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if ((c >= 0x41 && c <= 0x5a) || c <= 0x20 || c >= 0x7f || (c === 0x3a && i > 0))
        return `field name "${name}" has a character HTTP/2 forbids`;
    }
    if (/[\r\n\0]/.test(value)) return `field "${name}" has CR, LF or NUL in its value`;
    if (name[0] === ':') {
      if (regularSeen) return `pseudo-header ${name} after a regular field`;
      if (request ? !REQUEST_PSEUDO.has(name) : name !== ':status')
        return `pseudo-header ${name} is not allowed here`;
      if (out[name] !== undefined) return `pseudo-header ${name} repeated`;
      out[name] = value;
      continue;
    }
    regularSeen = true;
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific field "${name}"`;
    if (name === 'te' && value !== 'trailers') return 'te other than "trailers"';
    const prev = out[name];
    out[name] = prev === undefined ? value : `${String(prev)}, ${value}`;
  }
  if (request) {
    if (out[':method'] === undefined) return 'no :method';
    if (out[':method'] === 'CONNECT' && (out[':scheme'] !== undefined || out[':path'] !== undefined))
      if (out[':protocol'] === undefined) return 'CONNECT with :scheme or :path';
  } else if (!/^[1-5][0-9][0-9]$/.test(String(out[':status'] ?? ''))) return 'no valid :status';
  return out;
}
