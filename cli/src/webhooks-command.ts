import { parseArgs } from 'node:util';
import { loadConfig } from '@nanobill/config';
import { WebhookSecretStore } from '@nanobill/webhooks';
import { WebhooksRequest, operationResult, runWebhooks, secretsCipher } from '@nanobill/pipeline';

const USAGE = `usage: nanobill webhooks rotate-secret --account ID [--overlap-hours H]`;

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: { account: { type: 'string' }, 'overlap-hours': { type: 'string' } },
  });
}

/**
 * `nanobill webhooks rotate-secret --account ID`: a new signing secret for the account's alert
 * webhook, printed once. The previous one keeps verifying for `--overlap-hours` (default 24; 0
 * ends it at once, e.g. after a leak); deliveries in the overlap carry both signatures.
 */
export async function webhooks(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch {
    // An unknown option, or a value that looks like one (`--overlap-hours -1`).
    console.error(USAGE);
    return 2;
  }
  const { values, positionals } = parsed;
  const overlap = values['overlap-hours'];
  const request = WebhooksRequest.safeParse({
    action: positionals[0],
    account: values.account,
    ...(overlap === undefined ? {} : { overlapHours: Number(overlap) }),
  });
  if (!request.success || positionals.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig();
  const result = await operationResult(config, '/webhooks', request.data, (client) =>
    runWebhooks(new WebhookSecretStore(client, secretsCipher(config)), request.data),
  );
  console.log(JSON.stringify(result, null, 2));
  console.error(
    'nanobill: the secret is shown once; configure the receiver with it (and keep the previous one until previousValidUntil).',
  );
  return 0;
}
