/**
 * IP literal checks without `node:net`, so the translation modules stay free of I/O modules.
 * Strict on purpose: gRPC clients NACK an endpoint address that is not an IP literal.
 */
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4Literal(text: string): boolean {
  return IPV4.test(text);
}

/** IPv6 without brackets or zone id (`fd00::1`, `::ffff:10.0.0.1`). */
export function isIpv6Literal(text: string): boolean {
  if (!text.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(text)) return false;
  // The WHATWG URL parser implements the full IPv6 grammar (one `::`, 8 groups, embedded IPv4).
  return URL.canParse(`http://[${text}]/`);
}

export function isIpLiteral(text: string): boolean {
  return isIpv4Literal(text) || isIpv6Literal(text);
}

/** `host:port` with the IPv6 address in canonical form, so `fd00:0::1` and `fd00::1` compare equal. */
export function canonicalHostPort(address: string, port: number): string {
  if (!isIpv6Literal(address)) return `${address}:${port}`;
  return `${new URL(`http://[${address}]/`).hostname}:${port}`;
}
