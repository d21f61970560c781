import { parseArgs } from 'node:util';
import type { CreatedToken } from '@nanobill/api';
import { loadConfig } from '@nanobill/config';
import { TokensRequest, operationResult, runTokens } from '@nanobill/pipeline';

const USAGE = `usage: nanobill tokens create (--org ORG | --finance | --router) [--expires-in DAYS | --no-expiry] [--label TEXT]
       nanobill tokens revoke TOKEN_ID`;

/**
 * `nanobill tokens create --org ORG`: an org admin's API token (shown once; only its hash is
 * stored). `--finance`: the SQL endpoint's token; `--router`: every account's status. A token
 * expires after NANOBILL_TOKEN_DEFAULT_EXPIRY_DAYS unless `--expires-in` says otherwise or
 * `--no-expiry` asks for none. `revoke` of an id that does not exist fails (exit 1).
 */
export async function tokens(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      org: { type: 'string' },
      finance: { type: 'boolean', default: false },
      router: { type: 'boolean', default: false },
      'expires-in': { type: 'string' },
      'no-expiry': { type: 'boolean', default: false },
      label: { type: 'string' },
    },
  });
  const [action, tokenId] = positionals;
  const kind = values.finance ? 'finance' : values.router ? 'router' : 'org';
  if (values['no-expiry'] && values['expires-in'] !== undefined) {
    console.error(`nanobill: --expires-in and --no-expiry exclude each other\n${USAGE}`);
    return 2;
  }
  const config = loadConfig();
  const request = TokensRequest.safeParse(
    action === 'revoke'
      ? { action, tokenId }
      : {
          action,
          kind,
          org: values.org,
          ...(values['no-expiry']
            ? { noExpiry: true }
            : {
                expiresInDays:
                  values['expires-in'] === undefined
                    ? config.tokens.defaultExpiryDays
                    : Number(values['expires-in']),
              }),
          label: values.label,
        },
  );
  if (!request.success) {
    console.error(USAGE);
    return 2;
  }
  if (request.data.action === 'create' && (kind === 'org') !== (values.org !== undefined)) {
    console.error(
      `nanobill: ${kind === 'org' ? 'an org token needs --org' : '--org goes with org tokens only'}\n${USAGE}`,
    );
    return 2;
  }
  const result = await operationResult(config, '/tokens', request.data, (client) =>
    runTokens(client, request.data),
  );
  console.log(JSON.stringify(result, null, 2));
  if (request.data.action === 'create') {
    console.error('nanobill: the token is shown once; only its hash is stored.');
    const { expiresAt } = result as CreatedToken;
    console.error(
      expiresAt === null
        ? 'nanobill: this token never expires (--no-expiry): revoke it when it is no longer needed.'
        : `nanobill: it expires at ${expiresAt}` +
            (values['expires-in'] === undefined
              ? ` (the default, NANOBILL_TOKEN_DEFAULT_EXPIRY_DAYS=${config.tokens.defaultExpiryDays}; --expires-in DAYS or --no-expiry to choose).`
              : '.'),
    );
  }
  return 0;
}
