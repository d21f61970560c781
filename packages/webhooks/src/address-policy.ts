import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** The failure class of a delivery refused because of where it would connect. */
export const ADDRESS_NOT_PUBLIC = 'address not public';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** IPv6 global unicast (RFC 4291): everything outside it is local, special or unassigned. */
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

/** Names that are loopback by definition (RFC 6761), with or without the root's trailing dot. */
function isLocalhostName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.+$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/**
 * An address in canonical text (as DNS answers and URL hosts are), or undefined: anything
 * `node:net` does not take for an IP (non-dotted IPv4 spellings, which the URL parser has already
 * turned into dotted ones) and IPv6 zone ids (`fe80::1%eth0`) are not addresses here.
 * An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is the IPv4 address it maps.
 */
export function parseAddress(text: string): Address | undefined {
  const bare = text.replace(/^\[(.*)\]$/, '$1');
  if (bare.includes('%') || isIP(bare) === 0) return undefined;
  let address: Address;
  try {
    // ipaddr.js reads a trailing dotted quad (`::127.0.0.1`) as if it were `::ffff:…`; written
    // as two hex groups first, the address is the one the socket would use.
    address = ipaddr.parse(isIP(bare) === 6 ? dottedTailToHex(bare) : bare);
  } catch {
    return undefined;
  }
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (address as ipaddr.IPv6).toIPv4Address();
  }
  return address;
}

function dottedTailToHex(text: string): string {
  const match = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (!match) return text;
  const [a, b, c, d] = match.slice(2).map(Number) as [number, number, number, number];
  return `${match[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

/**
 * Public unicast only (an allowlist): IPv4 outside every special range ipaddr.js knows
 * (loopback, RFC 1918, link-local, CGNAT, multicast, broadcast, 0/8, benchmarking 198.18/15,
 * documentation, 240/4…), IPv6 inside 2000::/3 and outside its special ranges (Teredo, 6to4,
 * NAT64 64:ff9b::/96, documentation, ORCHID…); fc00::/7, fe80::/10, fec0::/10, ::1 and the
 * IPv4-compatible ::/96 are outside 2000::/3.
 */
export function isPublicUnicast(address: Address): boolean {
  if (address.kind() === 'ipv4') return address.range() === 'unicast';
  const v6 = address as ipaddr.IPv6;
  return v6.range() === 'unicast' && v6.match(GLOBAL_UNICAST_V6);
}

/**
 * Where webhooks may connect: public unicast addresses, plus networks allowed explicitly (CIDR,
 * e.g. `127.0.0.1/32` for a local receiver in tests and development; none by default).
 */
export class AddressPolicy {
  readonly #allowed: Array<[Address, number]>;

  /** Throws a RangeError naming a network that is not CIDR. */
  constructor(allowNetworks: readonly string[] = []) {
    this.#allowed = allowNetworks.map((network) => {
      try {
        const [address, prefix] = ipaddr.parseCIDR(network.trim());
        const mapped =
          address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()
            ? ((address as ipaddr.IPv6).toIPv4Address() as Address)
            : address;
        return [mapped, mapped === address ? prefix : Math.max(0, prefix - 96)];
      } catch {
        throw new RangeError(`not a network in CIDR notation: ${JSON.stringify(network)}`);
      }
    });
  }

  /** Whether a connection to this address (canonical text) may be made. */
  allowsAddress(text: string): boolean {
    const address = parseAddress(text);
    if (address === undefined) return false;
    if (isPublicUnicast(address)) return true;
    return this.#allowed.some(
      ([network, prefix]) => network.kind() === address.kind() && address.match(network, prefix),
    );
  }

  /**
   * Checked before any lookup, for a URL's host name: `ADDRESS_NOT_PUBLIC` for an address literal
   * that is not allowed and for localhost names; undefined for other names (their addresses are
   * checked when resolved, and again once connected).
   */
  refuseHost(hostname: string): string | undefined {
    const host = hostname.replace(/^\[(.*)\]$/, '$1');
    if (isLocalhostName(host)) return ADDRESS_NOT_PUBLIC;
    if (host.includes('%')) return ADDRESS_NOT_PUBLIC;
    if (isIP(host) !== 0) return this.allowsAddress(host) ? undefined : ADDRESS_NOT_PUBLIC;
    return undefined;
  }
}
