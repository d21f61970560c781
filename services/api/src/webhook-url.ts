import { AddressPolicy } from '@nanobill/webhooks';

/**
 * Why a webhook URL set by an org admin is refused, or undefined: it must be https, carry no
 * credentials, and not name localhost or an address outside public unicast (the same policy as
 * delivery, `policy`'s allowed networks included). Names are not resolved here: what a name
 * resolves to is checked at every delivery, on the address actually connected to.
 */
export function checkWebhookUrl(
  url: string,
  policy: AddressPolicy = new AddressPolicy(),
): string | undefined {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:') return 'must be an https URL';
  if (parsed.username || parsed.password) return 'must not carry credentials';
  if (policy.refuseHost(parsed.hostname) !== undefined) {
    return 'must not point at localhost or a private, loopback, link-local or other non-public address';
  }
  return undefined;
}
