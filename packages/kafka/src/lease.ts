import { AssignerProtocol, type Assigner, type PartitionAssigner } from 'kafkajs';
import type { Logger } from '@nanobill/observability';
import type { Kafka } from './client.js';
import {
  connectAndSubscribe,
  reportTo,
  supervise,
  type Life,
  type Supervision,
} from './supervisor.js';

export interface LeaseOptions {
  kafka: Kafka;
  /** A one-partition topic; nothing is ever produced to it, its partition is the lease. */
  topic: string;
  /** One group per singleton (e.g. `nanobill-enforcement-lease`). */
  groupId: string;
  logger: Logger;
  /** How long a holder that stopped answering keeps the lease before a standby takes it. */
  sessionTimeoutMs?: number;
  /** Runs when this process takes the lease; the singleton starts here. */
  onAcquired(): Promise<void>;
  /** Runs when the lease is lost (a rebalance gave it away, or the consumer failed). */
  onLost(): Promise<void>;
  supervision?: Supervision;
}

export interface Lease {
  holding(): boolean;
  /** Leaves the group (a standby takes over at once) after `onLost` if it was held. */
  stop(): Promise<void>;
}

/**
 * One active instance among any number: the members of a consumer group share a one-partition
 * topic, and the member assigned its partition runs the singleton while the others stand by.
 * The assignment is sticky (the current holder keeps it when members join), so starting a
 * standby never moves the work. The holder is known to the group only while it heartbeats: a
 * holder cut off from Kafka loses the lease (its consumer fails and `onLost` runs) while a
 * standby takes it after the session timeout, so the two may overlap for a moment; singletons
 * must tolerate that (idempotent output), as enforcement and alerts do.
 *
 * The lease consumer is supervised: one that kafkajs does not restart after a crash is
 * restarted with backoff (see `supervise`), so a process never stands by for good.
 */
export async function startLease(options: LeaseOptions): Promise<Lease> {
  const { groupId, logger } = options;
  let holding = false;
  let stopped = false;
  let transitions = Promise.resolve();
  const become = (hold: boolean, why: string) => {
    transitions = transitions.then(async () => {
      if (hold === holding || (hold && stopped)) return;
      holding = hold;
      logger.info({ groupId, why }, hold ? 'lease acquired' : 'lease lost');
      try {
        await (hold ? options.onAcquired() : options.onLost());
      } catch (err) {
        logger.error(
          { err, groupId },
          hold ? 'starting the lease holder failed' : 'stopping failed',
        );
      }
    });
    return transitions;
  };

  const assigner = stickyHolder(() => holding);
  const supervised = await supervise({
    component: `kafka lease ${groupId}`,
    group: groupId,
    logger,
    supervision: options.supervision,
    start: (life) => startIncarnation(options, life, assigner, become),
  });
  return {
    holding: () => holding,
    async stop() {
      stopped = true;
      await become(false, 'stopping');
      await supervised.stop();
    },
  };
}

async function startIncarnation(
  options: LeaseOptions,
  life: Life,
  assigner: PartitionAssigner,
  become: (hold: boolean, why: string) => Promise<void>,
): Promise<{ stop(): Promise<void> }> {
  const { kafka, topic, groupId, logger } = options;
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: options.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: 3_000,
    partitionAssigners: [assigner],
  });
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    const mine = (payload.memberAssignment[topic] ?? []).includes(0);
    void become(mine, mine ? 'assigned' : 'assigned elsewhere');
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    // Out of the group: whoever takes the partition now is the holder.
    logger.warn({ err: payload.error, groupId }, 'lease consumer failed');
    void become(false, 'consumer failed');
  });
  reportTo(consumer, life, 'kafkajs restarts retriable ones');
  await connectAndSubscribe(consumer, topic, false);
  await consumer.run({ eachMessage: async () => {} });
  return { stop: () => consumer.disconnect() };
}

const PROTOCOL = 'nanobill-sticky-holder';
const HOLDER = Buffer.from('holder');

/** Every partition to the member that says it holds them, else to the first member by id. */
function stickyHolder(holding: () => boolean): PartitionAssigner {
  return (): Assigner => ({
    name: PROTOCOL,
    version: 1,
    protocol: ({ topics }) => ({
      name: PROTOCOL,
      metadata: AssignerProtocol.MemberMetadata.encode({
        version: 1,
        topics,
        userData: holding() ? HOLDER : Buffer.alloc(0),
      }),
    }),
    assign: async ({ members, topics }) => {
      const sorted = [...members].sort((a, b) => a.memberId.localeCompare(b.memberId));
      const holder =
        sorted.find((m) =>
          AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.userData.equals(HOLDER),
        ) ?? sorted[0];
      return members.map((m) => ({
        memberId: m.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: m === holder ? Object.fromEntries(topics.map((t) => [t, [0]])) : {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
  });
}
