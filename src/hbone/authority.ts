import { isIP } from 'node:net';

/** A CONNECT target: an IP literal and a port (HBONE never carries host names). */
export interface Target {
  ip: string;
  port: number;
  /** `ip:port` or `[v6]:port`, as sent in `:authority`. */
  authority: string;
}

/** Parses `:authority` of an HBONE CONNECT. Undefined when it is not `ip:port` with a port in 1..65535. */
export function parseAuthority(authority: string | undefined): Target | undefined {
  if (!authority) return undefined;
  let ip: string;
  let portText: string;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    if (end < 0 || authority[end + 1] !== ':') return undefined;
    ip = authority.slice(1, end);
    portText = authority.slice(end + 2);
    if (isIP(ip) !== 6) return undefined;
  } else {
    const i = authority.lastIndexOf(':');
    if (i <= 0) return undefined;
    ip = authority.slice(0, i);
    portText = authority.slice(i + 1);
    if (isIP(ip) !== 4) return undefined;
  }
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { ip, port, authority: formatAuthority(ip, port) };
}

export function formatAuthority(ip: string, port: number): string {
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}
