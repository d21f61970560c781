import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ADDRESS_NOT_PUBLIC, AddressPolicy } from '../src/index.js';

// Where a webhook may connect: public unicast only, whatever the spelling. These are the
// addresses an org admin (or an upstream snapshot, or a DNS answer) can point a webhook at.
const REFUSED: Array<[string, string]> = [
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', '0/8 ("this network")'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback /8'],
  ['10.0.0.1', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['169.254.169.254', 'link-local (cloud metadata)'],
  ['100.64.0.1', 'CGNAT'],
  ['100.127.255.255', 'CGNAT'],
  ['192.0.0.8', 'IETF protocol assignments'],
  ['192.0.2.1', 'documentation'],
  ['198.51.100.1', 'documentation'],
  ['203.0.113.1', 'documentation'],
  ['198.18.0.1', 'benchmarking'],
  ['198.19.255.255', 'benchmarking'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast (SSDP)'],
  ['240.0.0.1', 'reserved 240/4'],
  ['255.255.255.255', 'broadcast'],
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
  ['::ffff:7f00:1', 'IPv4-mapped loopback, hex'],
  ['::ffff:10.0.0.1', 'IPv4-mapped private'],
  ['::127.0.0.1', 'IPv4-compatible (deprecated)'],
  ['::7f00:1', 'IPv4-compatible, hex'],
  ['fe80::1', 'link-local'],
  ['fc00::1', 'unique-local'],
  ['fd12:3456:789a::1', 'unique-local'],
  ['fec0::1', 'site-local (deprecated)'],
  ['ff02::1', 'multicast'],
  ['64:ff9b::7f00:1', 'NAT64 (embeds 127.0.0.1)'],
  ['64:ff9b:1::a00:1', 'local-use NAT64'],
  ['2002:7f00:1::1', '6to4 (embeds 127.0.0.1)'],
  ['2002:c0a8:101::1', '6to4 (embeds 192.168.1.1)'],
  ['2001::1', 'Teredo'],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
  ['2001:db8::1', 'documentation'],
  ['2001:2::1', 'benchmarking'],
  ['100::1', 'discard'],
  ['3fff::1', 'documentation (RFC 9637)'],
  ['4000::1', 'outside 2000::/3'],
  ['fe80::1%eth0', 'zone id'],
  ['[::1]', 'bracketed loopback'],
  ['2130706433', 'decimal IPv4 (not canonical)'],
  ['0x7f.1', 'hex IPv4 (not canonical)'],
  ['0177.0.0.1', 'octal IPv4 (not canonical)'],
  ['not an address', 'a name'],
  ['', 'empty'],
];

const ALLOWED: Array<[string, string]> = [
  ['8.8.8.8', 'public'],
  ['1.1.1.1', 'public'],
  ['93.184.216.34', 'public'],
  ['::ffff:8.8.8.8', 'IPv4-mapped public'],
  ['2606:4700:4700::1111', 'public IPv6'],
  ['2a00:1450:4001:80b::200e', 'public IPv6'],
];

describe('AddressPolicy: public unicast only', () => {
  const policy = new AddressPolicy();

  it.each(REFUSED)('refuses %s (%s)', (address) => {
    expect(policy.allowsAddress(address)).toBe(false);
  });

  it.each(ALLOWED)('allows %s (%s)', (address) => {
    expect(policy.allowsAddress(address)).toBe(true);
  });

  it('allows exactly the networks it is given besides, and nothing near them', () => {
    const local = new AddressPolicy(['127.0.0.1/32', 'fd00::/64']);
    expect(local.allowsAddress('127.0.0.1')).toBe(true);
    expect(local.allowsAddress('::ffff:127.0.0.1')).toBe(true);
    expect(local.allowsAddress('fd00::5')).toBe(true);
    expect(local.allowsAddress('127.0.0.2')).toBe(false);
    expect(local.allowsAddress('::1')).toBe(false);
    expect(local.allowsAddress('fd00:0:0:1::5')).toBe(false);
    expect(local.allowsAddress('10.0.0.1')).toBe(false);
    expect(new AddressPolicy(['::ffff:127.0.0.1/128']).allowsAddress('127.0.0.1')).toBe(true);
  });

  it('refuses a network that is not CIDR, naming it', () => {
    for (const bad of ['10.0.0.0', '10.0.0.0/33', 'localhost/8', '']) {
      expect(() => new AddressPolicy([bad])).toThrow(/CIDR/);
    }
  });

  it('checks URL hosts before any lookup: literals and localhost names', () => {
    for (const host of [
      '127.0.0.1',
      '[::1]',
      '[::ffff:7f00:1]',
      'localhost',
      'LOCALHOST',
      'localhost.',
      'localhost..',
      'api.localhost',
      'api.localhost.',
      '10.0.0.1',
      '[fe80::1%25eth0]',
    ]) {
      expect(policy.refuseHost(host), host).toBe(ADDRESS_NOT_PUBLIC);
    }
    // Names are resolved, then checked (at connect time).
    for (const host of [
      'hooks.example.com',
      'localhost.example.com',
      '8.8.8.8',
      '[2606:4700::1]',
    ]) {
      expect(policy.refuseHost(host), host).toBeUndefined();
    }
  });

  it('never allows an IPv4 address in a special range, however generated', () => {
    const special = [
      [0, 8],
      [10, 8],
      [127, 8],
      [224, 3], // 224/4 and 240/4 together: 224–255
    ] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...special),
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 3, maxLength: 3 }),
        fc.integer({ min: 0, max: 255 }),
        ([first, bits], rest, firstLow) => {
          const lead = bits === 8 ? first : first + (firstLow % 32);
          const address = [lead, ...rest].join('.');
          return !policy.allowsAddress(address) && !policy.allowsAddress(`::ffff:${address}`);
        },
      ),
    );
  });
});
