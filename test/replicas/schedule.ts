/**
 * The replica chaos schedule: an endless, seeded sequence of faults (engine.ts plays them while
 * users post). Drawn from one PRNG and nothing else, so a seed replays the same faults in the same
 * order; which replica a kill hits is chosen at run time (the one running a handler), with a
 * seeded fallback. Faults come in rounds, each a shuffle of every kind (kills twice), so that any
 * run of a round's length deals every kind.
 */
import { Random } from '../chaos/schedule.js';

export const REPLICA_FAULT_KINDS = ['killReplica', 'stopReplica', 'restartRedis', 'redisOutage', 'dropSocket'] as const;
export type ReplicaFaultKind = (typeof REPLICA_FAULT_KINDS)[number];

/** One round: every kind, kills twice (failover is what the run measures). */
export const ROUND: readonly ReplicaFaultKind[] = ['killReplica', 'killReplica', 'stopReplica', 'restartRedis', 'redisOutage', 'dropSocket'];

export type ReplicaFault =
  /** SIGKILL a replica — the one running a handler, else replica `fallback` — and start it again (same name) `restartAfter` ms later. */
  | { readonly kind: 'killReplica'; readonly fallback: number; readonly restartAfter: number }
  /** `bot.stop()` replica `replica`, and start it again `restartAfter` ms after it exited. */
  | { readonly kind: 'stopReplica'; readonly replica: number; readonly restartAfter: number }
  /** SIGTERM redis-server and start it again on the same port (empty: no persistence). */
  | { readonly kind: 'restartRedis' }
  /** SIGKILL redis-server, leave it down `downFor` ms, start it again (empty). */
  | { readonly kind: 'redisOutage'; readonly downFor: number }
  /** Drop replica `replica`'s socket at the emulator (a cut link, or a close frame). */
  | { readonly kind: 'dropSocket'; readonly replica: number; readonly how: 'terminate' | 1011 | 1001 };

export interface ReplicaStep {
  readonly index: number;
  /** ms of plain traffic before the fault. */
  readonly gap: number;
  readonly fault: ReplicaFault;
}

/** `kinds`: deal only these (a round keeps its other kinds' order; default every kind). */
export function* replicaSchedule(
  seed: number,
  settings: { readonly replicas: number; readonly lease: number; readonly kinds?: readonly ReplicaFaultKind[] },
): Generator<ReplicaStep, never> {
  const random = new Random(seed);
  const { replicas, lease } = settings;
  const round = ROUND.filter((kind) => settings.kinds === undefined || settings.kinds.includes(kind));
  if (round.length === 0) throw new RangeError('no fault kind to deal');
  for (let index = 0; ; ) {
    for (const kind of random.shuffle(round)) {
      const gap = random.int(300, 1_000);
      yield { index, gap, fault: fault(kind, random, replicas, lease) };
      index += 1;
    }
  }
}

function fault(kind: ReplicaFaultKind, random: Random, replicas: number, lease: number): ReplicaFault {
  switch (kind) {
    case 'killReplica':
      // Back before the lease runs out, or after: a restarted replica must not count as the holder.
      return { kind, fallback: random.int(0, replicas - 1), restartAfter: random.int(0, Math.round(1.5 * lease)) };
    case 'stopReplica':
      return { kind, replica: random.int(0, replicas - 1), restartAfter: random.int(0, 500) };
    case 'restartRedis':
      return { kind };
    case 'redisOutage':
      return { kind, downFor: random.int(Math.round(lease / 2), 2 * lease) };
    case 'dropSocket':
      return { kind, replica: random.int(0, replicas - 1), how: random.pick(['terminate', 1011, 1001] as const) };
  }
}

export function describeFault(fault: ReplicaFault): string {
  switch (fault.kind) {
    case 'killReplica':
      return `kill a busy replica (else #${fault.fallback + 1}), restart after ${fault.restartAfter} ms`;
    case 'stopReplica':
      return `stop replica #${fault.replica + 1}, restart after ${fault.restartAfter} ms`;
    case 'restartRedis':
      return 'restart redis-server';
    case 'redisOutage':
      return `kill redis-server for ${fault.downFor} ms`;
    case 'dropSocket':
      return `drop replica #${fault.replica + 1}'s socket (${fault.how})`;
  }
}
