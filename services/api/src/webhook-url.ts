import { BlockList, isIP } from 'node:net';

// Addresses an org's webhook must not point at: nanobill would otherwise POST from inside the
// network to wherever an org admin says (SSRF).
const blocked = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::1', 128],
  ['::', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['::ffff:0:0', 96],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6');
}

/**
 * Why a webhook URL set by an org admin is refused, or undefined: it must be https and must not
 * name a loopback, private or link-local address or `localhost`. (Names are not resolved here;
 * names that resolve to such addresses are the delivery side's to refuse.)
 */
export function checkWebhookUrl(url: string): string | undefined {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:') return 'must be an https URL';
  if (parsed.username || parsed.password) return 'must not carry credentials';
  const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return 'must not point at localhost';
  const family = isIP(host);
  if (family !== 0 && blocked.check(host, family === 4 ? 'ipv4' : 'ipv6')) {
    return 'must not point at a private, loopback or link-local address';
  }
  return undefined;
}
