import kafkajs, { type Admin, type Kafka } from 'kafkajs';

// kafkajs is CommonJS: its enums are read from the default export, as Node's ESM loader sees it.
const { ConfigResourceTypes } = kafkajs;

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  /** Topic-level configs, e.g. `{ 'cleanup.policy': 'compact' }`. */
  configs?: Record<string, string>;
}

const LEADERS_TIMEOUT_MS = 30_000;

/**
 * Creates the topics that do not exist yet (existing ones are left as they are) and returns once
 * every partition of every topic has a leader. Services starting together race to create the
 * same topics: the loser's "already exists" is expected, and a topic another process has just
 * created may not have leaders yet, so both wait for the leaders before using the topics.
 */
export async function ensureTopics(kafka: Kafka, specs: TopicSpec[]): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length > 0) {
      // A topic another process created meanwhile is not an error (kafkajs returns false).
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: s.numPartitions,
          replicationFactor: -1,
          configEntries: Object.entries(s.configs ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    await waitForLeaders(admin, specs, LEADERS_TIMEOUT_MS);
    return missing.map((s) => s.topic);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Until every partition answers a ListOffsets request, which is what consumers and topic views
 * send first: a partition listed with a leader in the metadata may still refuse it for a moment
 * ("not the leader for that topic-partition") while that leader takes over.
 */
async function waitForLeaders(admin: Admin, specs: TopicSpec[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let waiting = specs.map((s) => s.topic);
  for (;;) {
    const answers = await Promise.all(
      waiting.map((topic) =>
        admin.fetchTopicOffsets(topic).then(
          () => undefined,
          () => topic,
        ),
      ),
    );
    waiting = answers.filter((topic): topic is string => topic !== undefined);
    if (waiting.length === 0) return;
    if (Date.now() >= deadline) {
      throw new Error(`topics without a leader after ${timeoutMs} ms: ${waiting.join(', ')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A topic-level config of a spec that an existing topic does not have. */
export interface TopicConfigDrift {
  topic: string;
  name: string;
  wanted: string;
  actual: string | undefined;
}

/**
 * The configs of `specs` that existing topics lack: `ensureTopics` never changes a topic that
 * exists (one created by an older nanobill, or by hand), yet some configs carry a guarantee, e.g.
 * `message.timestamp.type=LogAppendTime` on the requests topic makes the event window use the
 * broker's clock rather than the router's. The caller reports them.
 */
export async function topicConfigDrift(
  kafka: Kafka,
  specs: TopicSpec[],
): Promise<TopicConfigDrift[]> {
  const wanted = specs.filter((s) => Object.keys(s.configs ?? {}).length > 0);
  if (wanted.length === 0) return [];
  const admin = kafka.admin();
  await admin.connect();
  try {
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: wanted.map((s) => ({
        type: ConfigResourceTypes.TOPIC,
        name: s.topic,
        configNames: Object.keys(s.configs!),
      })),
    });
    const actual = new Map(
      described.resources.map((r) => [
        r.resourceName,
        new Map(r.configEntries.map((e) => [e.configName, e.configValue])),
      ]),
    );
    return wanted.flatMap((s) =>
      Object.entries(s.configs!)
        .map(([name, value]) => ({
          topic: s.topic,
          name,
          wanted: value,
          actual: actual.get(s.topic)?.get(name) ?? undefined,
        }))
        .filter((d) => d.actual !== d.wanted),
    );
  } finally {
    await admin.disconnect();
  }
}
