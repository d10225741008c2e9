/**
 * The chaos schedule: an endless, seeded sequence of steps — bursts of user messages and faults —
 * drawn from one PRNG and from nothing else. The same seed always yields the same steps in the
 * same order, whatever happened at run time, so a failing run replays with its seed (the run's
 * outcome, e.g. how many reconnects a fault cost, may differ: the I/O is real).
 */

/** mulberry32: a small, fast, well-mixed 32-bit PRNG. Returns floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export class Random {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = prng(seed);
  }

  float(): number {
    return this.next();
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i -= 1) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }
}

/** The rooms of the chaos world: a direct room per user, and group rooms where users mention the bot. */
export const USERS = ['Alice', 'Bob', 'Carol'] as const;
export const ROOMS: ReadonlyArray<{ readonly name: string; readonly type: 'direct' | 'group'; readonly members: readonly number[] }> = [
  { name: 'Alice (direct)', type: 'direct', members: [0] },
  { name: 'Bob (direct)', type: 'direct', members: [1] },
  { name: 'Carol (direct)', type: 'direct', members: [2] },
  { name: 'Ops', type: 'group', members: [0, 1, 2] },
  { name: 'Dev', type: 'group', members: [0, 1] },
];

export interface Post {
  /** Index in USERS. */
  readonly user: number;
  /** Index in ROOMS. */
  readonly room: number;
  /** Also mention another user (group rooms; the bot is always mentioned there). */
  readonly alsoMention: number | undefined;
  readonly words: string;
}

export type HttpTarget = 'registration' | 'deviceList' | 'restGet' | 'restPost';

/** Every kind of fault, as counted in the soak's table. */
export const FAULT_KINDS = [
  'close1011',
  'close1001',
  'close4000',
  'terminate',
  'pongIgnore',
  'pongMismatch',
  'registration',
  'deviceList',
  'restGet',
  'restPost',
  'handshake',
  'staleDevice',
  'slowHandshake',
  'slowRest',
  'garbage',
  'binary',
  'oversized',
  'ackLoss',
  'emulatorRestart',
  'botRestart',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type DropHow = { readonly code: 1011 | 1001 | 4000; readonly reason: string } | { readonly terminate: true };

export type Fault =
  | { readonly kind: 'close1011' | 'close1001' | 'close4000'; readonly code: 1011 | 1001 | 4000; readonly reason: string }
  | { readonly kind: 'terminate' }
  | { readonly kind: 'pongIgnore' | 'pongMismatch' }
  /** 429/500/503 on a route, `times` answers in a row; registration and deviceList come with what makes the bot ask. */
  | {
      readonly kind: HttpTarget;
      readonly status: 429 | 500 | 503;
      readonly times: number;
      /** Retry-After in seconds (429 only); undefined sends none. */
      readonly retryAfter: number | undefined;
      /** deviceList only: how the bot is made to list its devices. */
      readonly trigger: 'handshakeFailures' | 'botRestart' | 'staleDevice';
      readonly drop: DropHow;
    }
  | { readonly kind: 'handshake'; readonly status: 429 | 500 | 503; readonly times: number; readonly retryAfter: number | undefined; readonly drop: DropHow }
  | { readonly kind: 'staleDevice'; readonly drop: DropHow }
  /** The next handshakes take these many ms each (some beyond connectTimeout). */
  | { readonly kind: 'slowHandshake'; readonly latencies: readonly number[]; readonly drop: DropHow }
  /** The next message fetches take these many ms each: enrichment finishes out of order. */
  | { readonly kind: 'slowRest'; readonly latencies: readonly number[] }
  | { readonly kind: 'garbage'; readonly frames: readonly GarbageFrame[] }
  | { readonly kind: 'binary'; readonly sizes: readonly number[] }
  /** A text frame this many bytes over the bot's maxPayload. */
  | { readonly kind: 'oversized'; readonly over: number }
  /** Acks are lost while the posts of the step are delivered; then the socket drops: they come again. */
  | { readonly kind: 'ackLoss'; readonly drop: DropHow }
  | { readonly kind: 'emulatorRestart'; readonly downFor: number }
  | { readonly kind: 'botRestart' };

/** A text frame the bot cannot use: each must cost a warning, never the socket. */
export interface GarbageFrame {
  readonly text: string;
  /** True when the bot reports it (INVALID_FRAME); false for frames it ignores quietly. */
  readonly warns: boolean;
}

export type Step =
  | { readonly kind: 'posts'; readonly posts: readonly Post[] }
  | {
      readonly kind: 'fault';
      readonly fault: Fault;
      /** Messages posted while the fault is on. */
      readonly during: readonly Post[];
    };

/** Limits the generator needs to know about the bot. */
export interface ScheduleLimits {
  readonly connectTimeout: number;
  readonly maxPayload: number;
}

const WORDS = ['deploy', 'status', 'ping', 'help', 'roll', 'ship', 'it', 'now', 'later', 'why', 'logs', 'coffee', 'build', 'red', 'green'];

function post(rng: Random): Post {
  const room = rng.int(0, ROOMS.length - 1);
  const spec = ROOMS[room] as (typeof ROOMS)[number];
  const user = rng.pick(spec.members);
  const others = spec.members.filter((m) => m !== user);
  const alsoMention = spec.type === 'group' && others.length > 0 && rng.chance(0.3) ? rng.pick(others) : undefined;
  const words = Array.from({ length: rng.int(1, 4) }, () => rng.pick(WORDS)).join(' ');
  return { user, room, alsoMention, words };
}

function posts(rng: Random, min: number, max: number): Post[] {
  return Array.from({ length: rng.int(min, max) }, () => post(rng));
}

function drop(rng: Random): DropHow {
  const how = rng.int(0, 3);
  if (how === 0) return { terminate: true };
  const code = ([1011, 1001, 4000] as const)[how - 1] as 1011 | 1001 | 4000;
  return { code, reason: rng.pick(code === 4000 ? ['', 'Server restart', 'Connection reset'] : ['', 'Going away', 'Internal error']) };
}

function status(rng: Random): 429 | 500 | 503 {
  return rng.pick([429, 500, 503] as const);
}

function retryAfter(rng: Random, s: number): number | undefined {
  if (s !== 429) return undefined;
  // Mostly no header (the bot waits retryTimeout), sometimes "0", rarely a whole second.
  return rng.pick([undefined, undefined, 0, 0, 1]);
}

function garbageFrame(rng: Random): GarbageFrame {
  return rng.pick<GarbageFrame>([
    { text: 'this is not json', warns: true },
    { text: '{"data": {"eventType": "conversation.activity"', warns: true },
    { text: '[1, 2, 3]', warns: true },
    { text: '42', warns: true },
    { text: 'null', warns: true },
    { text: '{"id": 7, "data": {}}', warns: true },
    { text: '{"id": "g-1", "data": {"eventType": "conversation.activity", "activity": {"verb": "post"}}}', warns: true },
    { text: '{}', warns: false },
    { text: '{"id": "g-2", "data": {"eventType": "featureToggle_update"}}', warns: false },
    { text: '{"data": {"eventType": "conversation.highlight"}}', warns: false },
  ]);
}

function fault(rng: Random, kind: FaultKind, limits: ScheduleLimits): Fault {
  switch (kind) {
    case 'close1011':
      return { kind, code: 1011, reason: rng.pick(['', 'Internal error']) };
    case 'close1001':
      return { kind, code: 1001, reason: rng.pick(['', 'Going away']) };
    case 'close4000':
      // 4000 with any reason but "Replaced" is a recycle: the bot reconnects.
      return { kind, code: 4000, reason: rng.pick(['', 'Server restart', 'Connection reset']) };
    case 'terminate':
    case 'pongIgnore':
    case 'pongMismatch':
    case 'botRestart':
      return { kind };
    case 'registration':
    case 'deviceList':
    case 'restGet':
    case 'restPost': {
      const s = status(rng);
      const trigger = kind === 'deviceList' ? rng.pick(['handshakeFailures', 'botRestart', 'botRestart'] as const) : 'staleDevice';
      return { kind, status: s, times: rng.int(1, 2), retryAfter: retryAfter(rng, s), trigger, drop: drop(rng) };
    }
    case 'handshake': {
      const s = status(rng);
      return { kind, status: s, times: rng.int(1, 3), retryAfter: retryAfter(rng, s), drop: drop(rng) };
    }
    case 'staleDevice':
    case 'ackLoss':
      return { kind, drop: drop(rng) };
    case 'slowHandshake':
      return {
        kind,
        latencies: Array.from({ length: rng.int(1, 3) }, () => (rng.chance(0.4) ? rng.int(limits.connectTimeout + 50, limits.connectTimeout * 2) : rng.int(10, limits.connectTimeout / 2))),
        drop: drop(rng),
      };
    case 'slowRest':
      return { kind, latencies: Array.from({ length: rng.int(3, 8) }, () => rng.int(0, 120)) };
    case 'garbage':
      return { kind, frames: Array.from({ length: rng.int(1, 4) }, () => garbageFrame(rng)) };
    case 'binary':
      return { kind, sizes: Array.from({ length: rng.int(1, 2) }, () => rng.int(1, 2048)) };
    case 'oversized':
      return { kind, over: rng.int(1, 65_536) };
    case 'emulatorRestart':
      return { kind, downFor: rng.pick([0, rng.int(20, 150), rng.int(150, 600)]) };
  }
}

/**
 * The steps of a seed, endlessly. Faults are dealt from a shuffled deck of every kind, so that
 * any run of `FAULT_KINDS.length` faults has each kind once; between faults, users post.
 */
export function* schedule(seed: number, limits: ScheduleLimits): Generator<Step, never> {
  const rng = new Random(seed);
  let deck: FaultKind[] = [];
  for (;;) {
    yield { kind: 'posts', posts: posts(rng, 1, 4) };
    if (deck.length === 0) deck = rng.shuffle(FAULT_KINDS);
    const kind = deck.pop() as FaultKind;
    // Faults whose effect needs a message to happen get at least one.
    const min = kind === 'restGet' || kind === 'restPost' || kind === 'ackLoss' || kind === 'slowRest' ? 1 : 0;
    const max = kind === 'slowRest' ? 6 : 3;
    yield { kind: 'fault', fault: fault(rng, kind, limits), during: posts(rng, min, max) };
  }
}

export function describeStep(step: Step): string {
  if (step.kind === 'posts') return `posts ×${step.posts.length}`;
  const { kind, ...rest } = step.fault;
  const detail = JSON.stringify(rest, (_k, v: unknown) => (Array.isArray(v) && v.length > 0 && typeof v[0] === 'object' ? `[${v.length} frames]` : v));
  return `fault ${kind} ${detail === '{}' ? '' : detail}${step.during.length ? ` + ${step.during.length} posts` : ''}`.trim();
}
