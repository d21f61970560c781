import { parseArgs } from 'node:util';
import { loadConfig } from '@nanobill/config';
import { REJECTION_CODES, TOPICS } from '@nanobill/contract';
import { DLQ_REPLAY_GROUP, kafkaFromConfig, replayDlq } from '@nanobill/kafka';
import { createLogger } from '@nanobill/observability';

const USAGE = `usage: nanobill dlq replay [--topic TOPIC] [--limit N] [--dry-run] [--code CODE]

  Re-produces dead-lettered messages (original key and bytes) to the topic in their
  nanobill-source-topic header; consumer group ${DLQ_REPLAY_GROUP}, so nothing is replayed twice.
  --topic    the DLQ to read (default ${TOPICS.requestsDlq})
  --limit    at most N messages this run (run again to continue)
  --code     only messages rejected with this code (${Object.keys(REJECTION_CODES).join(', ')})
  --dry-run  report what would be replayed; produce and commit nothing

Prints a JSON summary { dryRun, replayed, skipped, byCode, bySourceTopic, firstReasons, refused,
complete, stoppedEarly? }; with --dry-run its counts are what a replay would do.`;

/** `nanobill dlq replay …`: replays a dead-letter topic after a fix. */
export async function dlq(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        topic: { type: 'string', default: TOPICS.requestsDlq },
        limit: { type: 'string' },
        code: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    console.error(`nanobill dlq: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const problem = usageProblem(positionals, values);
  if (problem !== undefined) {
    console.error(`nanobill dlq: ${problem}\n${USAGE}`);
    return 2;
  }

  const config = loadConfig();
  // stdout carries the summary alone (warnings are in it: `refused`, `stoppedEarly`).
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'error' });
  // This command never starts a broker: the configured one (with its TLS/SASL, as the runbook
  // replays from production), or the local one if it runs.
  const kafka = kafkaFromConfig(config, { clientId: DLQ_REPLAY_GROUP, logger });
  const summary = await replayDlq({
    kafka,
    topic: values.topic,
    groupId: DLQ_REPLAY_GROUP,
    limit: values.limit === undefined ? undefined : Number(values.limit),
    code: values.code,
    dryRun: values['dry-run'],
    logger,
  });
  process.stdout.write(`${JSON.stringify(summary, null, process.stdout.isTTY ? 2 : undefined)}\n`);
  if (summary.skipped > 0) {
    console.error(
      `nanobill dlq: ${summary.skipped} message(s) refused: without a source topic, or sent to the DLQ without their value (see "refused")`,
    );
  }
  if (summary.stoppedEarly !== undefined) console.error(`nanobill dlq: ${summary.stoppedEarly}`);
  if (summary.dryRun) console.error('nanobill dlq: dry run, nothing was produced or committed');
  return 0;
}

function usageProblem(
  positionals: string[],
  values: { topic: string; limit?: string; code?: string },
): string | undefined {
  const [action, ...extra] = positionals;
  if (action !== 'replay')
    return action === undefined ? 'missing action' : `unknown action "${action}"`;
  if (extra.length > 0) return `unexpected argument "${extra[0]}"`;
  if (values.topic.trim() === '') return '--topic is empty';
  if (values.limit !== undefined && !/^[1-9]\d*$/.test(values.limit)) {
    return '--limit takes a positive integer';
  }
  if (values.code !== undefined && !Object.hasOwn(REJECTION_CODES, values.code)) {
    return `unknown code "${values.code}"`;
  }
  return undefined;
}
