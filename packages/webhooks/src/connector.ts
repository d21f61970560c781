import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupFunction, Socket } from 'node:net';
import { buildConnector } from 'undici';
import type { AddressPolicy } from './address-policy.js';

/** An address as a resolver gives it. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a host name to all of its addresses (default: the system resolver, as Node does). */
export type Resolve = (hostname: string, family: number) => Promise<ResolvedAddress[]>;

/** What a refused connection fails with; the sender reports it as `address not public`. */
export class AddressNotPublicError extends Error {
  readonly code = 'ERR_WEBHOOK_ADDRESS_NOT_PUBLIC';
  constructor(what: string) {
    super(`webhook refused: ${what} is not a public address`);
    this.name = 'AddressNotPublicError';
  }
}

const systemResolve: Resolve = (hostname, family) =>
  dnsLookup(hostname, { all: true, family: family === 4 || family === 6 ? family : 0 });

/**
 * A `lookup` for the socket that resolves the name and keeps only the addresses the policy
 * allows: the socket connects to an address that was checked, in the same step, so a name that
 * resolves differently the next time (DNS rebinding) gains nothing.
 */
export function guardedLookup(policy: AddressPolicy, resolve: Resolve): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, familyNumber(options.family)).then(
      (addresses) => {
        const allowed = addresses.filter((a) => policy.allowsAddress(a.address));
        const first = allowed[0];
        if (addresses.length === 0) {
          const error: NodeJS.ErrnoException = new Error(`${hostname} has no address`);
          error.code = 'ENOTFOUND';
          callback(error, '', 0);
        } else if (first === undefined) {
          callback(new AddressNotPublicError(`every address of ${hostname}`), '', 0);
        } else if (options.all) {
          (callback as (err: null, addresses: ResolvedAddress[]) => void)(null, allowed);
        } else {
          callback(null, first.address, first.family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

function familyNumber(family: number | 'IPv4' | 'IPv6' | undefined): number {
  if (family === 'IPv4') return 4;
  if (family === 'IPv6') return 6;
  return family ?? 0;
}

/**
 * undici's connector with the address policy applied to every connection: a literal host is
 * checked before connecting, a name through `guardedLookup`, and the peer's address once
 * connected (a last check that holds whatever path the socket took).
 */
export function guardedConnector(
  options: buildConnector.BuildOptions & { policy: AddressPolicy; resolve?: Resolve },
): buildConnector.connector {
  const { policy, resolve = systemResolve, ...connectOptions } = options;
  const connect = buildConnector({
    ...connectOptions,
    lookup: guardedLookup(policy, resolve),
  } as buildConnector.BuildOptions);
  return (target, callback) => {
    if (policy.refuseHost(target.hostname) !== undefined) {
      callback(new AddressNotPublicError(target.hostname), null);
      return;
    }
    connect(target, (error, socket) => {
      if (error !== null) return callback(error, null);
      const peer = (socket as Socket).remoteAddress;
      if (peer === undefined || !policy.allowsAddress(peer)) {
        socket.destroy();
        return callback(new AddressNotPublicError(peer ?? 'the peer'), null);
      }
      callback(null, socket);
    });
  };
}
