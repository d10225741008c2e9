/**
 * The emulator's world: people (users and bots, each with a token), rooms, memberships, messages
 * and WDM devices. Plain data with Hydra ids, shaped like the public REST API's answers.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { buildHydraId, type HydraType } from '../protocol/ids.js';

export const EMULATOR_CLUSTER = 'us';

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
  lastActivity: string;
}

export interface EmulatedMessage {
  readonly uuid: string;
  readonly id: string;
  readonly roomUuid: string;
  readonly personUuid: string;
  readonly text?: string;
  readonly markdown?: string;
  readonly parentUuid?: string;
  readonly mentionedPeople?: readonly string[];
  readonly files?: readonly string[];
  readonly attachments?: readonly unknown[];
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
  /** Envelopes sent to this device and not acked yet, in the order they were sent. */
  readonly pending: Map<string, Record<string, unknown>>;
}

export const hydra = (type: HydraType, uuid: string): string => buildHydraId(type, uuid, EMULATOR_CLUSTER);

export const now = (): string => new Date().toISOString();

export function newToken(orgId: string): string {
  // `<secret>_<cluster>_<orgId>`: the shape the official SDK derives an org id from (protocol §10.1).
  return `${randomBytes(24).toString('hex')}_P0A1_${orgId}`;
}

export function personJson(person: EmulatedPerson): Record<string, unknown> {
  const [firstName, ...rest] = person.displayName.split(' ');
  return {
    id: person.id,
    emails: [person.email],
    phoneNumbers: [],
    displayName: person.displayName,
    nickName: firstName,
    firstName,
    lastName: rest.join(' '),
    orgId: hydra('ORGANIZATION', person.orgId),
    created: person.created,
    lastModified: person.created,
    type: person.type,
  };
}

export function roomJson(room: EmulatedRoom): Record<string, unknown> {
  return {
    id: room.id,
    title: room.title,
    type: room.type,
    isLocked: room.isLocked,
    lastActivity: room.lastActivity,
    creatorId: hydra('PEOPLE', room.creatorUuid),
    created: room.created,
  };
}

export function membershipId(personUuid: string, roomUuid: string): string {
  return hydra('MEMBERSHIP', `${personUuid}:${roomUuid}`);
}

export function membershipJson(room: EmulatedRoom, person: EmulatedPerson, created: string): Record<string, unknown> {
  return {
    id: membershipId(person.uuid, room.uuid),
    roomId: room.id,
    roomType: room.type,
    personId: person.id,
    personEmail: person.email,
    personDisplayName: person.displayName,
    personOrgId: hydra('ORGANIZATION', person.orgId),
    isModerator: room.moderators.has(person.uuid),
    isMonitor: false,
    created,
  };
}

export function messageJson(message: EmulatedMessage, room: EmulatedRoom, author: EmulatedPerson): Record<string, unknown> {
  return {
    id: message.id,
    roomId: room.id,
    roomType: room.type,
    ...(message.text === undefined ? {} : { text: message.text }),
    ...(message.markdown === undefined ? {} : { markdown: message.markdown }),
    ...(message.parentUuid === undefined ? {} : { parentId: hydra('MESSAGE', message.parentUuid) }),
    ...(message.files === undefined ? {} : { files: message.files }),
    ...(message.attachments === undefined ? {} : { attachments: message.attachments }),
    personId: author.id,
    personEmail: author.email,
    ...(message.mentionedPeople === undefined ? {} : { mentionedPeople: message.mentionedPeople.map((uuid) => hydra('PEOPLE', uuid)) }),
    created: message.created,
  };
}

export function newUuid(): string {
  return randomUUID();
}
