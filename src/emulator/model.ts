/**
 * The emulator's world: people (users and bots, each with a token), rooms, memberships, messages,
 * teams, webhooks, card submits and file shares, with Hydra ids, shaped like the public REST API's
 * answers. Every change a Webex client would see is announced as a `conversation.activity`.
 */
import type { IncomingMessage } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { buildHydraId, hydraClusterOf, parseHydraId, type HydraType } from '../protocol/ids.js';

export interface EmulatedPerson {
  readonly uuid: string;
  /** Hydra PEOPLE id, as the REST API names this person. */
  readonly id: string;
  readonly displayName: string;
  readonly email: string;
  readonly type: 'person' | 'bot';
  /** This person's access token for the emulator (REST, WDM and Mercury). */
  readonly token: string;
  readonly orgId: string;
  readonly created: string;
}

export interface EmulatedRoom {
  readonly uuid: string;
  readonly id: string;
  title: string;
  readonly type: 'direct' | 'group';
  readonly members: Set<string>;
  readonly moderators: Set<string>;
  isLocked: boolean;
  readonly creatorUuid: string;
  readonly created: string;
  teamUuid?: string;
  lastActivity: string;
}

/** What `GET /v1/contents/<id>` answers for a file: 423 while 'scanning', 410 'infected', 428 'unscannable', 200 'safe'. */
export type FileScan = 'scanning' | 'safe' | 'infected' | 'unscannable';

export interface EmulatedFile {
  readonly name: string;
  /** 'unchecked' while Webex scans it, then 'safe' or 'infected' (what activities say). */
  malwareQuarantineState: 'unchecked' | 'safe' | 'infected';
  /** The bytes a download gets. */
  readonly data: Buffer;
  readonly contentType: string;
  /** What a download gets; follows malwareQuarantineState unless set (setFileScan). */
  scan?: FileScan;
  /** Retry-After of a 423 while scanning (seconds, or an HTTP date, as sent); default 2. */
  retryAfter?: number | string;
}

/** The download state of a file: its own, else what its malwareQuarantineState says. */
export function scanOf(file: EmulatedFile): FileScan {
  return file.scan ?? (file.malwareQuarantineState === 'unchecked' ? 'scanning' : file.malwareQuarantineState);
}

export interface EmulatedMessage {
  readonly uuid: string;
  /** The REST id (Hydra MESSAGE id). */
  readonly id: string;
  readonly roomUuid: string;
  /** The room's REST id. */
  readonly roomId: string;
  readonly personUuid: string;
  /** The author's REST id. */
  readonly personId: string;
  readonly text?: string;
  readonly markdown?: string;
  readonly html?: string;
  readonly parentUuid?: string;
  /** The thread's first message, as a REST id. */
  readonly parentId?: string;
  readonly mentionedPeople?: readonly string[];
  readonly files?: readonly string[];
  readonly attachments?: readonly unknown[];
  /** Files shared with a `share` activity, with their scan state. */
  readonly shared?: readonly EmulatedFile[];
  readonly created: string;
}

export interface EmulatedDevice {
  readonly uuid: string;
  readonly ownerUuid: string;
  readonly url: string;
  readonly webSocketUrl: string;
  readonly description: Record<string, unknown>;
  readonly creationTime: string;
  modificationTime: string;
  /** Envelopes sent to this device and not acked yet, in the order they were sent (they expire: see the emulator's `envelopeTtl`). */
  readonly pending: Map<string, Record<string, unknown>>;
  /** When each pending envelope was sent (the emulator's clock, ms), by envelope id. */
  readonly pendingSince: Map<string, number>;
  /** When the device was last used: registered, read or refreshed (GET, PUT of it), or a socket of it opened or closed (the emulator's clock, ms). */
  lastSeen: number;
}

export interface EmulatedTeam {
  readonly uuid: string;
  name: string;
  description?: string;
  readonly creatorUuid: string;
  readonly members: Set<string>;
  readonly moderators: Set<string>;
  readonly created: string;
}

export interface EmulatedAction {
  readonly uuid: string;
  /** The REST id (Hydra ATTACHMENT_ACTION id). */
  readonly id: string;
  readonly messageUuid: string;
  /** The card's message, as a REST id. */
  readonly messageId: string;
  readonly personUuid: string;
  /** Who submitted, as a REST id. */
  readonly personId: string;
  readonly roomUuid: string;
  /** The room's REST id. */
  readonly roomId: string;
  readonly inputs: Record<string, unknown>;
  readonly created: string;
}

export interface EmulatedWebhook {
  readonly uuid: string;
  readonly ownerUuid: string;
  name: string;
  targetUrl: string;
  readonly resource: string;
  readonly event: string;
  filter?: string;
  secret?: string;
  readonly created: string;
}

/** An error the REST layer turns into an HTTP answer. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A request's body, whole; a 413 once it is over `max` bytes (read no further). */
export async function readAll(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new HttpProblem(413, 'Request body too large.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A request's JSON object body (up to 1 MB); undefined when there is none; a 400 when it is not an object. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const raw = await readAll(req, 1_000_000);
  if (raw.length === 0) return undefined;
  try {
    const value: unknown = JSON.parse(raw.toString('utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new HttpProblem(400, 'The request body is not a JSON object.');
  }
}

export const now = (): string => new Date().toISOString();
export const newUuid = (): string => randomUUID();

export class World {
  readonly people = new Map<string, EmulatedPerson>();
  readonly rooms = new Map<string, EmulatedRoom>();
  readonly messages = new Map<string, EmulatedMessage>();
  readonly teams = new Map<string, EmulatedTeam>();
  readonly actions = new Map<string, EmulatedAction>();
  readonly webhooks = new Map<string, EmulatedWebhook>();
  /** `${personUuid}:${roomUuid}` -> when the membership was created. */
  readonly memberships = new Map<string, string>();
  readonly orgUuid = newUuid();
  /** The hydra cluster string of the conversation objects (rooms, messages, memberships…). */
  readonly cluster: string;

  constructor(
    clusterId: string,
    private readonly conversationUrl: (roomUuid: string) => string,
    /** Called for every activity: deliver it to the devices of these people. */
    private readonly announce: (recipients: Iterable<string>, activity: Record<string, unknown>) => void,
    /** Called after a message is created. */
    private readonly onMessage: (message: EmulatedMessage) => void = () => undefined,
  ) {
    this.cluster = hydraClusterOf(clusterId);
  }

  hydra(type: HydraType, uuid: string): string {
    return buildHydraId(type, uuid, type === 'PEOPLE' || type === 'ORGANIZATION' ? 'us' : this.cluster);
  }

  /**
   * The uuid of a Hydra id of the given type, as the real API reads ids: a bare uuid, another type
   * or another cluster names nothing.
   */
  uuidIn(id: string, type: HydraType): string | undefined {
    const parsed = parseHydraId(id);
    if (!parsed || parsed.type !== type) return undefined;
    const cluster = type === 'PEOPLE' || type === 'ORGANIZATION' ? 'us' : this.cluster;
    return parsed.cluster === cluster ? parsed.uuid : undefined;
  }

  // ---------------------------------------------------------------- people

  createPerson(init: { displayName: string; email?: string; token?: string; type: 'person' | 'bot' }): EmulatedPerson {
    const uuid = newUuid();
    const slug = init.displayName.toLowerCase().replace(/[^a-z0-9]+/g, '.').replace(/^\.|\.$/g, '') || 'someone';
    const person: EmulatedPerson = {
      uuid,
      id: this.hydra('PEOPLE', uuid),
      displayName: init.displayName,
      email: init.email ?? (init.type === 'bot' ? `${slug}@webex.bot` : `${slug}@example.com`),
      type: init.type,
      // `<secret>_<cluster>_<orgId>`: the shape the official SDK derives an org id from (protocol §10.1).
      token: init.token ?? `${randomBytes(24).toString('hex')}_P0A1_${this.orgUuid}`,
      orgId: this.orgUuid,
      created: now(),
    };
    this.people.set(uuid, person);
    return person;
  }

  personByToken(token: string): EmulatedPerson | undefined {
    for (const person of this.people.values()) if (person.token === token) return person;
    return undefined;
  }

  findPerson(id: string): EmulatedPerson {
    const person = this.people.get(this.uuidIn(id, 'PEOPLE') ?? '');
    if (!person) throw new HttpProblem(404, 'Person not found.');
    return person;
  }

  personByEmail(email: string): EmulatedPerson {
    const person = [...this.people.values()].find((p) => p.email === email);
    if (!person) throw new HttpProblem(404, `No person with email ${email}.`);
    return person;
  }

  // ---------------------------------------------------------------- rooms and memberships

  /** A group room; `members[0]` creates it with the others in it. Announces `create` to all of them. */
  createRoom(init: { title: string; members: readonly EmulatedPerson[]; teamUuid?: string }): EmulatedRoom {
    const [creator] = init.members;
    if (!creator) throw new TypeError('a room needs at least one member');
    const room = this.newRoom('group', init.title, creator.uuid);
    if (init.teamUuid !== undefined) room.teamUuid = init.teamUuid;
    for (const member of init.members) this.join(room, member.uuid);
    this.announceIn(room, creator, 'create', {
      id: room.uuid,
      objectType: 'conversation',
      url: this.conversationUrl(room.uuid),
      tags: [],
      displayName: room.title,
      participants: { items: init.members.map((member) => this.personObject(member)) },
    });
    return room;
  }

  /** The direct (1:1) room of two people, created on first use (silently, as Webex does). */
  directRoom(a: EmulatedPerson, b: EmulatedPerson): EmulatedRoom {
    for (const room of this.rooms.values()) {
      if (room.type === 'direct' && room.members.has(a.uuid) && room.members.has(b.uuid)) return room;
    }
    const room = this.newRoom('direct', b.displayName, a.uuid);
    this.join(room, a.uuid);
    this.join(room, b.uuid);
    return room;
  }

  private newRoom(type: 'direct' | 'group', title: string, creatorUuid: string): EmulatedRoom {
    const uuid = newUuid();
    const created = now();
    const room: EmulatedRoom = { uuid, id: this.hydra('ROOM', uuid), title, type, members: new Set(), moderators: new Set(), isLocked: false, creatorUuid, created, lastActivity: created };
    this.rooms.set(uuid, room);
    return room;
  }

  private join(room: EmulatedRoom, personUuid: string): void {
    room.members.add(personUuid);
    this.memberships.set(`${personUuid}:${room.uuid}`, now());
  }

  findRoom(id: string, member?: EmulatedPerson): EmulatedRoom {
    const room = this.rooms.get(this.uuidIn(id, 'ROOM') ?? '');
    if (!room || (member && !room.members.has(member.uuid))) throw new HttpProblem(404, 'Room not found.');
    return room;
  }

  /** Adds `person` to `room` as `by` did; announces `add` to the members, the new one included. */
  addMember(room: EmulatedRoom, person: EmulatedPerson, by: EmulatedPerson): void {
    if (room.type === 'direct') throw new HttpProblem(400, 'Direct rooms have no memberships to add.');
    if (room.members.has(person.uuid)) throw new HttpProblem(409, 'The person is already a member.');
    this.join(room, person.uuid);
    this.announceIn(room, by, 'add', this.personObject(person));
  }

  /** Removes `person` from `room` (by themselves or by `by`); announces `leave` to the members, the leaver included. */
  removeMember(room: EmulatedRoom, person: EmulatedPerson, by: EmulatedPerson = person): void {
    if (!room.members.has(person.uuid)) throw new HttpProblem(404, 'Membership not found.');
    const recipients = new Set(room.members);
    room.members.delete(person.uuid);
    room.moderators.delete(person.uuid);
    this.memberships.delete(`${person.uuid}:${room.uuid}`);
    this.announce(recipients, this.activity(room, by, 'leave', this.personObject(person)));
  }

  setModerator(room: EmulatedRoom, person: EmulatedPerson, isModerator: boolean, by: EmulatedPerson): void {
    if (!room.members.has(person.uuid)) throw new HttpProblem(404, 'Membership not found.');
    if (isModerator) room.moderators.add(person.uuid);
    else room.moderators.delete(person.uuid);
    this.announceIn(room, by, isModerator ? 'assignModerator' : 'unassignModerator', this.personObject(person));
  }

  setLocked(room: EmulatedRoom, locked: boolean, by: EmulatedPerson): void {
    room.isLocked = locked;
    this.announceIn(room, by, locked ? 'lock' : 'unlock', { id: room.uuid, objectType: 'conversation' });
  }

  rename(room: EmulatedRoom, title: string, by: EmulatedPerson): void {
    room.title = title;
    this.announceIn(room, by, 'update', { id: room.uuid, objectType: 'conversation', displayName: title });
  }

  // ---------------------------------------------------------------- messages, files, cards

  createMessage(
    author: EmulatedPerson,
    room: EmulatedRoom,
    body: {
      text?: string | undefined;
      markdown?: string | undefined;
      parentId?: string | undefined;
      mentionedPeople?: string[] | undefined;
      files?: string[] | undefined;
      attachments?: unknown[] | undefined;
      shared?: EmulatedFile[] | undefined;
    },
  ): EmulatedMessage {
    if (!room.members.has(author.uuid)) throw new HttpProblem(403, 'The author is not a member of the room.');
    if (body.text === undefined && body.markdown === undefined && body.files === undefined && body.attachments === undefined && body.shared === undefined) {
      throw new HttpProblem(400, 'A message needs text, markdown, files or attachments.');
    }
    let parentUuid: string | undefined;
    if (body.parentId !== undefined) {
      parentUuid = this.uuidIn(body.parentId, 'MESSAGE');
      const parent = parentUuid ? this.messages.get(parentUuid) : undefined;
      if (!parent || parent.roomUuid !== room.uuid) throw new HttpProblem(400, 'parentId does not name a message of this room.');
      if (parent.parentUuid !== undefined) parentUuid = parent.parentUuid; // threads are one level deep
    }
    const mentioned = body.mentionedPeople?.map((id) => this.uuidIn(id, 'PEOPLE') ?? id);
    const html = mentioned?.length ? this.mentionHtml(body.text ?? '', mentioned) : undefined;
    const uuid = newUuid();
    const message: EmulatedMessage = {
      uuid,
      id: this.hydra('MESSAGE', uuid),
      roomUuid: room.uuid,
      roomId: room.id,
      personUuid: author.uuid,
      personId: author.id,
      ...(body.text === undefined ? {} : { text: body.text }),
      ...(body.markdown === undefined ? {} : { markdown: body.markdown }),
      ...(html === undefined ? {} : { html }),
      ...(parentUuid === undefined ? {} : { parentUuid, parentId: this.hydra('MESSAGE', parentUuid) }),
      ...(mentioned === undefined ? {} : { mentionedPeople: mentioned }),
      ...(body.files === undefined ? {} : { files: body.files }),
      ...(body.attachments === undefined ? {} : { attachments: body.attachments }),
      ...(body.shared === undefined ? {} : { shared: body.shared }),
      created: now(),
    };
    this.messages.set(uuid, message);
    const mentions = mentioned?.length ? { mentions: { items: mentioned.map((id) => ({ id, objectType: 'person' })) } } : {};
    const object = message.shared
      ? { id: uuid, objectType: 'content', contentCategory: 'documents', displayName: message.text ?? '', files: { items: message.shared.map((f) => this.fileObject(f)) }, ...mentions }
      : { id: uuid, objectType: 'comment', displayName: message.text ?? '', ...(message.markdown ? { content: message.markdown } : {}), ...mentions };
    this.announceIn(
      room,
      author,
      message.shared ? 'share' : 'post',
      object,
      { id: uuid, ...(parentUuid === undefined ? {} : { parent: { id: parentUuid, type: 'reply' } }) },
      this.hearers(room, message),
    );
    this.onMessage(message);
    return message;
  }
  /**
   * The html of a message that mentions people, as Webex clients write it: the text, with each
   * mentioned name in it (as the author typed it: a whole word or words, the first place not taken
   * by another mention) wrapped in a `<spark-mention>`; a name the text lacks is put in front.
   */
  private mentionHtml(text: string, mentioned: readonly string[]): string {
    const spans: Array<{ at: number; end: number; uuid: string }> = [];
    const missing: string[] = [];
    const tag = (uuid: string, name: string) => `<spark-mention data-object-type="person" data-object-id="${this.hydra('PEOPLE', uuid)}">${escapeHtml(name)}</spark-mention>`;
    // Longer names first, so that "Echo" does not take the place of "Echo Bot".
    const byLength = [...mentioned].sort((a, b) => (this.people.get(b)?.displayName.length ?? 0) - (this.people.get(a)?.displayName.length ?? 0));
    for (const uuid of byLength) {
      const name = this.people.get(uuid)?.displayName ?? '';
      const at = name === '' ? -1 : findWhole(text, name, spans);
      if (at >= 0) spans.push({ at, end: at + name.length, uuid });
      else missing.push(tag(uuid, name));
    }
    let html = '';
    let from = 0;
    for (const span of spans.sort((a, b) => a.at - b.at)) {
      html += `${escapeHtml(text.slice(from, span.at))}${tag(span.uuid, text.slice(span.at, span.end))}`;
      from = span.end;
    }
    html += escapeHtml(text.slice(from));
    return `<p>${[...missing, html].filter((part) => part !== '').join(' ')}</p>`;
  }

  findMessage(id: string): EmulatedMessage {
    const message = this.messages.get(this.uuidIn(id, 'MESSAGE') ?? '');
    if (!message) throw new HttpProblem(404, 'Message not found.');
    return message;
  }

  /** Deletes a message (by its author); announces `delete`. */
  deleteMessage(message: EmulatedMessage, by: EmulatedPerson): void {
    const room = this.rooms.get(message.roomUuid);
    if (!room) throw new HttpProblem(404, 'Message not found.');
    this.messages.delete(message.uuid);
    this.announceIn(room, by, 'delete', { id: message.uuid, objectType: 'activity' });
  }

  /** `by` has read up to `message`: announces `acknowledge`. */
  acknowledge(message: EmulatedMessage, by: EmulatedPerson): void {
    const room = this.rooms.get(message.roomUuid);
    if (!room) throw new HttpProblem(404, 'Message not found.');
    this.announceIn(room, by, 'acknowledge', { id: message.uuid, objectType: 'activity' });
  }

  /** The scan of a shared file finished: updates its state and announces `update` of the content. */
  finishScan(message: EmulatedMessage, verdict: 'safe' | 'infected'): void {
    const room = this.rooms.get(message.roomUuid);
    const author = this.people.get(message.personUuid);
    if (!room || !author || !message.shared) throw new TypeError('finishScan needs a message made by shareFile');
    for (const file of message.shared) {
      file.malwareQuarantineState = verdict;
      file.scan = verdict;
    }
    this.announceIn(
      room,
      author,
      'update',
      { id: message.uuid, objectType: 'content', contentCategory: 'documents', files: { items: message.shared.map((f) => this.fileObject(f)) } },
      {},
      this.hearers(room, message),
    );
  }

  /** The URL of file `index` of a shared message: `<apiUrl>/contents/<CONTENT id>`. */
  contentUrl(message: EmulatedMessage, index: number): string {
    return `${this.conversationUrl(message.roomUuid).replace(/\/conversation\/.*$/, '')}/v1/contents/${this.hydra('CONTENT', `${message.uuid}/${index}`)}`;
  }

  /** The file a content id or URL names: 404 when it names none. */
  findContent(idOrUrl: string): { message: EmulatedMessage; file: EmulatedFile; index: number } {
    const id = /^https?:\/\//i.test(idOrUrl) ? (new URL(idOrUrl).pathname.split('/contents/')[1] ?? '') : idOrUrl;
    const [messageUuid, index] = (this.uuidIn(decodeURIComponent(id), 'CONTENT') ?? '').split('/');
    const message = this.messages.get(messageUuid ?? '');
    const file = message?.shared?.[Number(index)];
    if (!message || !file) throw new HttpProblem(404, 'Content not found.');
    return { message, file, index: Number(index) };
  }

  /** A card submit by `by` on the card of `message`: stored and announced as `cardAction`. */
  submitCard(message: EmulatedMessage, by: EmulatedPerson, inputs: Record<string, unknown>): EmulatedAction {
    const room = this.rooms.get(message.roomUuid);
    if (!room || !room.members.has(by.uuid)) throw new HttpProblem(404, 'Message not found.');
    if (!message.attachments?.length) throw new HttpProblem(400, 'The message has no card.');
    const uuid = newUuid();
    const action: EmulatedAction = {
      uuid,
      id: this.hydra('ATTACHMENT_ACTION', uuid),
      messageUuid: message.uuid,
      messageId: message.id,
      personUuid: by.uuid,
      personId: by.id,
      roomUuid: room.uuid,
      roomId: room.id,
      inputs,
      created: now(),
    };
    this.actions.set(action.uuid, action);
    this.announceIn(room, by, 'cardAction', { objectType: 'submit', inputs }, { id: action.uuid, parent: { id: message.uuid, type: 'cardAction' } });
    return action;
  }

  findAction(id: string): EmulatedAction {
    const action = this.actions.get(this.uuidIn(id, 'ATTACHMENT_ACTION') ?? '');
    if (!action) throw new HttpProblem(404, 'Attachment action not found.');
    return action;
  }

  // ---------------------------------------------------------------- teams and webhooks

  createTeam(name: string, creator: EmulatedPerson, description?: string): EmulatedTeam {
    const team: EmulatedTeam = { uuid: newUuid(), name, creatorUuid: creator.uuid, members: new Set([creator.uuid]), moderators: new Set([creator.uuid]), created: now(), ...(description === undefined ? {} : { description }) };
    this.teams.set(team.uuid, team);
    return team;
  }

  findTeam(id: string, member?: EmulatedPerson): EmulatedTeam {
    const team = this.teams.get(this.uuidIn(id, 'TEAM') ?? '');
    if (!team || (member && !team.members.has(member.uuid))) throw new HttpProblem(404, 'Team not found.');
    return team;
  }

  // ---------------------------------------------------------------- REST shapes

  personJson(person: EmulatedPerson): Record<string, unknown> {
    const [firstName, ...rest] = person.displayName.split(' ');
    return {
      id: person.id,
      emails: [person.email],
      phoneNumbers: [],
      displayName: person.displayName,
      nickName: firstName,
      firstName,
      lastName: rest.join(' '),
      orgId: this.hydra('ORGANIZATION', person.orgId),
      created: person.created,
      lastModified: person.created,
      type: person.type,
    };
  }

  roomJson(room: EmulatedRoom): Record<string, unknown> {
    return {
      id: room.id,
      title: room.title,
      type: room.type,
      isLocked: room.isLocked,
      ...(room.teamUuid === undefined ? {} : { teamId: this.hydra('TEAM', room.teamUuid) }),
      lastActivity: room.lastActivity,
      creatorId: this.hydra('PEOPLE', room.creatorUuid),
      created: room.created,
    };
  }

  membershipJson(room: EmulatedRoom, person: EmulatedPerson): Record<string, unknown> {
    return {
      id: this.hydra('MEMBERSHIP', `${person.uuid}:${room.uuid}`),
      roomId: room.id,
      roomType: room.type,
      personId: person.id,
      personEmail: person.email,
      personDisplayName: person.displayName,
      personOrgId: this.hydra('ORGANIZATION', person.orgId),
      isModerator: room.moderators.has(person.uuid),
      isMonitor: false,
      created: this.memberships.get(`${person.uuid}:${room.uuid}`) ?? room.created,
    };
  }

  messageJson(message: EmulatedMessage): Record<string, unknown> {
    const room = this.rooms.get(message.roomUuid);
    const author = this.people.get(message.personUuid);
    if (!room || !author) throw new HttpProblem(404, 'Message not found.');
    return {
      id: message.id,
      roomId: room.id,
      roomType: room.type,
      ...(message.text === undefined ? {} : { text: message.text }),
      ...(message.markdown === undefined ? {} : { markdown: message.markdown }),
      ...(message.html === undefined ? {} : { html: message.html }),
      ...(message.parentUuid === undefined ? {} : { parentId: this.hydra('MESSAGE', message.parentUuid) }),
      ...(message.files === undefined && message.shared === undefined
        ? {}
        : { files: [...(message.files ?? []), ...(message.shared ?? []).map((_, i) => this.contentUrl(message, i))] }),
      ...(message.attachments === undefined ? {} : { attachments: message.attachments }),
      personId: author.id,
      personEmail: author.email,
      ...(message.mentionedPeople === undefined ? {} : { mentionedPeople: message.mentionedPeople.map((uuid) => this.hydra('PEOPLE', uuid)) }),
      created: message.created,
    };
  }

  actionJson(action: EmulatedAction): Record<string, unknown> {
    return {
      id: this.hydra('ATTACHMENT_ACTION', action.uuid),
      type: 'submit',
      messageId: this.hydra('MESSAGE', action.messageUuid),
      personId: this.hydra('PEOPLE', action.personUuid),
      roomId: this.hydra('ROOM', action.roomUuid),
      inputs: action.inputs,
      created: action.created,
    };
  }

  teamJson(team: EmulatedTeam): Record<string, unknown> {
    return {
      id: this.hydra('TEAM', team.uuid),
      name: team.name,
      ...(team.description === undefined ? {} : { description: team.description }),
      creatorId: this.hydra('PEOPLE', team.creatorUuid),
      created: team.created,
    };
  }

  teamMembershipJson(team: EmulatedTeam, person: EmulatedPerson): Record<string, unknown> {
    return {
      id: this.hydra('TEAM_MEMBERSHIP', `${person.uuid}:${team.uuid}`),
      teamId: this.hydra('TEAM', team.uuid),
      personId: person.id,
      personEmail: person.email,
      personDisplayName: person.displayName,
      isModerator: team.moderators.has(person.uuid),
      created: team.created,
    };
  }

  webhookJson(webhook: EmulatedWebhook): Record<string, unknown> {
    return {
      id: this.hydra('WEBHOOK', webhook.uuid),
      name: webhook.name,
      targetUrl: webhook.targetUrl,
      resource: webhook.resource,
      event: webhook.event,
      ...(webhook.filter === undefined ? {} : { filter: webhook.filter }),
      status: 'active',
      created: webhook.created,
    };
  }

  // ---------------------------------------------------------------- activities

  private personObject(person: EmulatedPerson): Record<string, unknown> {
    return { id: person.uuid, objectType: 'person', emailAddress: person.email, displayName: person.displayName, entryUUID: person.uuid, orgId: person.orgId };
  }

  private fileObject(file: EmulatedFile): Record<string, unknown> {
    return { objectType: 'file', displayName: file.name, fileSize: file.data.byteLength, mimeType: file.contentType, malwareQuarantineState: file.malwareQuarantineState };
  }

  private activity(room: EmulatedRoom, actor: EmulatedPerson, verb: string, object: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const id = typeof extra.id === 'string' ? extra.id : newUuid();
    return {
      id,
      // Where the activity lives on its conversation server: clients derive its cluster from this host.
      url: `${this.conversationUrl(room.uuid).replace(/\/conversations\/[^/]*$/, '')}/activities/${id}`,
      verb,
      published: now(),
      actor: {
        id: actor.uuid,
        entryUUID: actor.uuid,
        emailAddress: actor.email,
        displayName: actor.displayName,
        orgId: actor.orgId,
        objectType: 'person',
        // Bots appear as another type of actor (UNCONFIRMED which string Webex uses; webex_bot treats non-PERSON as a bot).
        type: actor.type === 'bot' ? 'APPLICATION' : 'PERSON',
      },
      object,
      target: { id: room.uuid, objectType: 'conversation', url: this.conversationUrl(room.uuid), tags: room.type === 'direct' ? ['ONE_ON_ONE'] : [] },
      ...extra,
    };
  }

  /** Announces an activity to the members of `room` (or to `recipients`). */
  private announceIn(room: EmulatedRoom, actor: EmulatedPerson, verb: string, object: Record<string, unknown>, extra: Record<string, unknown> = {}, recipients: Iterable<string> = room.members): void {
    room.lastActivity = now();
    this.announce(recipients, this.activity(room, actor, verb, object, extra));
  }

  /**
   * Who hears of a message (its post or share, and its scan's update): in a direct room both; in a
   * group room every person, but of the bots only those it @mentions, and its author — as Webex
   * sends a bot only the group messages that mention it.
   */
  private hearers(room: EmulatedRoom, message: EmulatedMessage): string[] {
    if (room.type === 'direct') return [...room.members];
    return [...room.members].filter((member) => this.people.get(member)?.type !== 'bot' || member === message.personUuid || message.mentionedPeople?.includes(member));
  }
}

/** Where `name` stands in `text` as a whole word (or words), outside `taken`; -1 when nowhere. */
export function findWhole(text: string, name: string, taken: ReadonlyArray<{ at: number; end: number }> = []): number {
  const word = /[\p{L}\p{N}_]/u;
  for (let at = text.indexOf(name); at >= 0; at = text.indexOf(name, at + 1)) {
    const end = at + name.length;
    const whole = (at === 0 || !word.test(text[at - 1] as string)) && (end === text.length || !word.test(text[end] as string));
    if (whole && !taken.some((t) => at < t.end && end > t.at)) return at;
  }
  return -1;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
