/**
 * IP literal checks without node:net, so translation stays free of I/O modules.
 * IPv6 goes through the WHATWG URL host parser, which also gives its canonical text (RFC 5952
 * compression, lower case): `FD00:0::1` and `fd00::1` are one endpoint, not two.
 */
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
// No leading zeros: Go (and so Kubernetes) rejects them, and some parsers would read them as octal.
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);

/** The address in canonical form, or undefined when it is not an IPv4 literal. */
export function canonicalIPv4(text: string): string | undefined {
  return IPV4.test(text) ? text : undefined;
}

/** The address in canonical form, or undefined when it is not an IPv6 literal (zone ids are not allowed). */
export function canonicalIPv6(text: string): string | undefined {
  if (!text.includes(':') || /[[\]/%]/.test(text)) return undefined;
  try {
    return new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}
