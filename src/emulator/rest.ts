/**
 * The emulator's public REST API (`/v1`): people, messages, rooms, memberships, teams, team
 * memberships, webhooks and attachment actions, with Webex's list pagination (`max`, a cursor and a
 * `Link: <…>; rel="next"` header). Answers are the shapes of developer.webex.com.
 */
import { type EmulatedFile, type EmulatedPerson, type EmulatedRoom, type FileScan, HttpProblem, newUuid, now, scanOf, type World } from './model.js';

export interface RestAnswer {
  readonly status: number;
  /** JSON, or a Buffer sent as it is (a file). */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

/** The `files` part of a multipart `POST /v1/messages`. */
export interface UploadedFile {
  readonly filename: string;
  readonly contentType: string;
  readonly data: Buffer;
}

export interface RestContext {
  readonly world: World;
  /** `http://127.0.0.1:<port>/v1` */
  readonly apiUrl: string;
  /** Query parameters the `next` links leave out (a known Webex quirk, as a fault). */
  readonly droppedNextParams: ReadonlySet<string>;
  /** What uploaded files start as: 'safe', or 'scanning' until finishScan/setFileScan. */
  readonly uploadScan?: FileScan;
}

const DEFAULT_MAX = 100;

function str(body: Record<string, unknown>, key: string): string | undefined {
  return typeof body[key] === 'string' ? (body[key] as string) : undefined;
}

function required(body: Record<string, unknown>, key: string): string {
  const value = str(body, key);
  if (value === undefined || value === '') throw new HttpProblem(400, `${key} is required.`);
  return value;
}

/** One page of `items`, with a Link header to the next when there is more. */
function page(ctx: RestContext, path: string, query: URLSearchParams, items: unknown[]): RestAnswer {
  const max = Math.max(1, Math.min(1000, Number(query.get('max') ?? DEFAULT_MAX) || DEFAULT_MAX));
  const offset = Math.max(0, Number(query.get('cursor') ?? 0) || 0);
  const slice = items.slice(offset, offset + max);
  if (offset + max >= items.length) return { status: 200, body: { items: slice } };
  const next = new URL(`${ctx.apiUrl}/${path}`);
  for (const [key, value] of query) if (key !== 'cursor' && !ctx.droppedNextParams.has(key)) next.searchParams.append(key, value);
  next.searchParams.set('max', String(max));
  next.searchParams.set('cursor', String(offset + max));
  return { status: 200, body: { items: slice }, headers: { link: `<${next.toString()}>; rel="next"` } };
}

export function routeRest(
  ctx: RestContext,
  method: string,
  path: string,
  query: URLSearchParams,
  me: EmulatedPerson,
  body: Record<string, unknown> = {},
  upload?: UploadedFile,
): RestAnswer | undefined {
  const { world } = ctx;
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  // A content id is base64, which may hold a '/'.
  if (parts[0] === 'contents') return method === 'GET' && parts.length > 1 ? getContent(world, parts.slice(1).join('/'), query, me) : undefined;
  // "team/memberships" and "attachment/actions" are two-word collections.
  const collection = parts[0] === 'team' || parts[0] === 'attachment' ? `${parts[0]}/${parts[1] ?? ''}` : parts[0];
  const id = parts[0] === 'team' || parts[0] === 'attachment' ? parts[2] : parts[1];
  if (parts.length > (collection?.includes('/') ? 3 : 2)) return undefined;
  const ok = (value: unknown): RestAnswer => ({ status: 200, body: value });
  const noContent: RestAnswer = { status: 204 };

  switch (collection) {
    case 'people': {
      if (method !== 'GET') return undefined;
      if (id === 'me') return ok(world.personJson(me));
      if (id !== undefined) return ok(world.personJson(world.findPerson(id)));
      const email = query.get('email');
      const displayName = query.get('displayName');
      // `id=<id1>,<id2>`: only those people (an id that names nobody is left out), as the SDK's batched lookups expect.
      const ids = query.has('id') ? new Set((query.get('id') ?? '').split(',').map((id) => world.uuidIn(id.trim(), 'PEOPLE'))) : undefined;
      const items = [...world.people.values()]
        .filter((p) => (ids === undefined || ids.has(p.uuid)) && (email === null || p.email === email) && (displayName === null || p.displayName.startsWith(displayName)))
        .map((p) => world.personJson(p));
      return page(ctx, 'people', query, items);
    }

    case 'messages': {
      if (method === 'POST' && id === undefined) return ok(world.messageJson(createMessage(world, me, body, upload, ctx.uploadScan ?? 'safe')));
      if (id === undefined && method === 'GET') {
        const room = world.findRoom(query.get('roomId') ?? '', me);
        const mentionsMe = query.get('mentionedPeople') === 'me' || query.get('mentionedPeople') === me.id;
        if (me.type === 'bot' && room.type === 'group' && !mentionsMe) {
          throw new HttpProblem(403, 'Bots can list messages of a group room only with mentionedPeople=me.');
        }
        const parentUuid = query.has('parentId') ? world.uuidIn(query.get('parentId') ?? '', 'MESSAGE') : undefined;
        const items = [...world.messages.values()]
          .filter((m) => m.roomUuid === room.uuid && (!mentionsMe || m.mentionedPeople?.includes(me.uuid)) && (parentUuid === undefined || m.parentUuid === parentUuid))
          .reverse()
          .map((m) => world.messageJson(m));
        return page(ctx, 'messages', query, items);
      }
      if (id === undefined) return undefined;
      const message = world.findMessage(id);
      const room = world.rooms.get(message.roomUuid);
      if (!room?.members.has(me.uuid)) throw new HttpProblem(404, 'Message not found.');
      if (method === 'GET') return ok(world.messageJson(message));
      if (method === 'DELETE') {
        if (message.personUuid !== me.uuid && !room.moderators.has(me.uuid)) throw new HttpProblem(403, 'Only the author or a moderator may delete a message.');
        world.deleteMessage(message, me);
        return noContent;
      }
      if (method === 'PUT') {
        if (message.personUuid !== me.uuid) throw new HttpProblem(403, 'Only the author may edit a message.');
        const edited = { ...message, ...(str(body, 'text') === undefined ? {} : { text: str(body, 'text') }), ...(str(body, 'markdown') === undefined ? {} : { markdown: str(body, 'markdown') }) };
        world.messages.set(message.uuid, edited);
        return ok(world.messageJson(edited));
      }
      return undefined;
    }

    case 'rooms': {
      if (id === undefined && method === 'GET') {
        const type = query.get('type');
        const teamUuid = query.has('teamId') ? world.uuidIn(query.get('teamId') ?? '', 'TEAM') : undefined;
        const items = [...world.rooms.values()]
          .filter((r) => r.members.has(me.uuid) && (type === null || r.type === type) && (teamUuid === undefined || r.teamUuid === teamUuid))
          .map((r) => world.roomJson(r));
        return page(ctx, 'rooms', query, items);
      }
      if (id === undefined && method === 'POST') {
        const teamId = str(body, 'teamId');
        const teamUuid = teamId === undefined ? undefined : world.findTeam(teamId, me).uuid;
        return ok(world.roomJson(world.createRoom({ title: required(body, 'title'), members: [me], ...(teamUuid === undefined ? {} : { teamUuid }) })));
      }
      if (id === undefined) return undefined;
      const room = world.findRoom(id, me);
      if (method === 'GET') return ok(world.roomJson(room));
      if (method === 'PUT') {
        const title = str(body, 'title');
        if (title !== undefined && title !== room.title) world.rename(room, title, me);
        if (typeof body.isLocked === 'boolean' && body.isLocked !== room.isLocked) world.setLocked(room, body.isLocked, me);
        return ok(world.roomJson(room));
      }
      if (method === 'DELETE') {
        world.rooms.delete(room.uuid);
        return noContent;
      }
      return undefined;
    }

    case 'memberships': {
      if (id === undefined && method === 'GET') return page(ctx, 'memberships', query, listMemberships(world, me, query));
      if (id === undefined && method === 'POST') {
        const room = world.findRoom(required(body, 'roomId'), me);
        const personId = str(body, 'personId');
        const person = personId !== undefined ? world.findPerson(personId) : world.personByEmail(required(body, 'personEmail'));
        world.addMember(room, person, me);
        if (body.isModerator === true) world.setModerator(room, person, true, me);
        return ok(world.membershipJson(room, person));
      }
      if (id === undefined) return undefined;
      const { room, person } = findMembership(world, id, me);
      if (method === 'GET') return ok(world.membershipJson(room, person));
      if (method === 'PUT') {
        if (typeof body.isModerator !== 'boolean') throw new HttpProblem(400, 'isModerator is required.');
        world.setModerator(room, person, body.isModerator, me);
        return ok(world.membershipJson(room, person));
      }
      if (method === 'DELETE') {
        world.removeMember(room, person, me);
        return noContent;
      }
      return undefined;
    }

    case 'teams': {
      if (id === undefined && method === 'GET') return page(ctx, 'teams', query, [...world.teams.values()].filter((t) => t.members.has(me.uuid)).map((t) => world.teamJson(t)));
      if (id === undefined && method === 'POST') return ok(world.teamJson(world.createTeam(required(body, 'name'), me, str(body, 'description'))));
      if (id === undefined) return undefined;
      const team = world.findTeam(id, me);
      if (method === 'GET') return ok(world.teamJson(team));
      if (method === 'PUT') {
        team.name = required(body, 'name');
        const description = str(body, 'description');
        if (description !== undefined) team.description = description;
        return ok(world.teamJson(team));
      }
      if (method === 'DELETE') {
        world.teams.delete(team.uuid);
        return noContent;
      }
      return undefined;
    }

    case 'team/memberships': {
      if (id === undefined && method === 'GET') {
        const team = world.findTeam(query.get('teamId') ?? '', me);
        const items = [...team.members].flatMap((uuid) => {
          const person = world.people.get(uuid);
          return person ? [world.teamMembershipJson(team, person)] : [];
        });
        return page(ctx, 'team/memberships', query, items);
      }
      if (id === undefined && method === 'POST') {
        const team = world.findTeam(required(body, 'teamId'), me);
        const personId = str(body, 'personId');
        const person = personId !== undefined ? world.findPerson(personId) : world.personByEmail(required(body, 'personEmail'));
        team.members.add(person.uuid);
        if (body.isModerator === true) team.moderators.add(person.uuid);
        return ok(world.teamMembershipJson(team, person));
      }
      if (id === undefined) return undefined;
      const [personUuid, teamUuid] = (world.uuidIn(id, 'TEAM_MEMBERSHIP') ?? '').split(':');
      const team = world.teams.get(teamUuid ?? '');
      const person = world.people.get(personUuid ?? '');
      if (!team || !person || !team.members.has(person.uuid) || !team.members.has(me.uuid)) throw new HttpProblem(404, 'Team membership not found.');
      if (method === 'GET') return ok(world.teamMembershipJson(team, person));
      if (method === 'PUT') {
        if (body.isModerator === true) team.moderators.add(person.uuid);
        else team.moderators.delete(person.uuid);
        return ok(world.teamMembershipJson(team, person));
      }
      if (method === 'DELETE') {
        team.members.delete(person.uuid);
        team.moderators.delete(person.uuid);
        return noContent;
      }
      return undefined;
    }

    case 'webhooks': {
      const mine = [...world.webhooks.values()].filter((w) => w.ownerUuid === me.uuid);
      if (id === undefined && method === 'GET') return page(ctx, 'webhooks', query, mine.map((w) => world.webhookJson(w)));
      if (id === undefined && method === 'POST') {
        const webhook = {
          uuid: newUuid(),
          ownerUuid: me.uuid,
          name: required(body, 'name'),
          targetUrl: required(body, 'targetUrl'),
          resource: required(body, 'resource'),
          event: required(body, 'event'),
          created: now(),
          ...(str(body, 'filter') === undefined ? {} : { filter: str(body, 'filter') }),
          ...(str(body, 'secret') === undefined ? {} : { secret: str(body, 'secret') }),
        };
        world.webhooks.set(webhook.uuid, webhook);
        return ok(world.webhookJson(webhook));
      }
      if (id === undefined) return undefined;
      const webhook = mine.find((w) => w.uuid === world.uuidIn(id, 'WEBHOOK'));
      if (!webhook) throw new HttpProblem(404, 'Webhook not found.');
      if (method === 'GET') return ok(world.webhookJson(webhook));
      if (method === 'PUT') {
        webhook.name = required(body, 'name');
        webhook.targetUrl = required(body, 'targetUrl');
        return ok(world.webhookJson(webhook));
      }
      if (method === 'DELETE') {
        world.webhooks.delete(webhook.uuid);
        return noContent;
      }
      return undefined;
    }

    case 'attachment/actions': {
      if (id === undefined && method === 'POST') {
        if (str(body, 'type') !== 'submit') throw new HttpProblem(400, 'type must be "submit".');
        const message = world.findMessage(required(body, 'messageId'));
        const inputs = typeof body.inputs === 'object' && body.inputs !== null ? (body.inputs as Record<string, unknown>) : {};
        return ok(world.actionJson(world.submitCard(message, me, inputs)));
      }
      if (id === undefined || method !== 'GET') return undefined;
      const action = world.findAction(id);
      if (!world.rooms.get(action.roomUuid)?.members.has(me.uuid)) throw new HttpProblem(404, 'Attachment action not found.');
      return ok(world.actionJson(action));
    }

    default:
      return undefined;
  }
}

/** A file's bytes for a member of its room, as its scan allows. */
function getContent(world: World, id: string, query: URLSearchParams, me: EmulatedPerson): RestAnswer {
  const { message, file } = world.findContent(id);
  if (!world.rooms.get(message.roomUuid)?.members.has(me.uuid)) throw new HttpProblem(403, 'Only members of the room may download its files.');
  switch (scanOf(file)) {
    case 'scanning':
      return { status: 423, body: { message: 'The file is being scanned for malware; try again later.', errors: [] }, headers: { 'retry-after': String(file.retryAfter ?? 2) } };
    case 'infected':
      return { status: 410, body: { message: 'The file was found to contain malware.', errors: [] } };
    case 'unscannable':
      if (query.get('allow') !== 'unscannable') return { status: 428, body: { message: 'The file could not be scanned for malware; add ?allow=unscannable to download it anyway.', errors: [] } };
      break;
    default:
      break;
  }
  return {
    status: 200,
    body: file.data,
    headers: { 'content-type': file.contentType, 'content-disposition': contentDisposition(file.name) },
  };
}

/** `attachment; filename="…"` (ASCII), with `filename*=UTF-8''…` too when the name is not plain ASCII. */
function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return ascii === name ? `attachment; filename="${name}"` : `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

function createMessage(world: World, me: EmulatedPerson, body: Record<string, unknown>, upload: UploadedFile | undefined, uploadScan: FileScan) {
  let room: EmulatedRoom;
  const roomId = str(body, 'roomId');
  const toPersonId = str(body, 'toPersonId');
  const toPersonEmail = str(body, 'toPersonEmail');
  if (roomId !== undefined) room = world.findRoom(roomId, me);
  else if (toPersonId !== undefined) room = world.directRoom(me, world.findPerson(toPersonId));
  else if (toPersonEmail !== undefined) room = world.directRoom(me, world.personByEmail(toPersonEmail));
  else throw new HttpProblem(400, 'A message needs roomId, toPersonId or toPersonEmail.');
  const files = Array.isArray(body.files) ? body.files.filter((f): f is string => typeof f === 'string') : undefined;
  const attachments = Array.isArray(body.attachments) ? (body.attachments as unknown[]) : undefined;
  // An uploaded file is shared as a Webex client shares one (verb `share`, with its scan state).
  const shared: EmulatedFile[] | undefined =
    upload === undefined
      ? undefined
      : [
          {
            name: upload.filename,
            data: upload.data,
            contentType: upload.contentType,
            malwareQuarantineState: uploadScan === 'scanning' ? 'unchecked' : uploadScan === 'infected' ? 'infected' : 'safe',
            ...(uploadScan === 'safe' ? {} : { scan: uploadScan }),
          },
        ];
  return world.createMessage(me, room, {
    text: str(body, 'text'),
    markdown: str(body, 'markdown'),
    parentId: str(body, 'parentId'),
    files,
    attachments,
    shared,
  });
}

function findMembership(world: World, id: string, me: EmulatedPerson): { room: EmulatedRoom; person: EmulatedPerson } {
  const [personUuid, roomUuid] = (world.uuidIn(id, 'MEMBERSHIP') ?? '').split(':');
  const room = world.rooms.get(roomUuid ?? '');
  const person = world.people.get(personUuid ?? '');
  if (!room || !person || !room.members.has(person.uuid) || !room.members.has(me.uuid)) throw new HttpProblem(404, 'Membership not found.');
  return { room, person };
}

function listMemberships(world: World, me: EmulatedPerson, query: URLSearchParams): Record<string, unknown>[] {
  const roomId = query.get('roomId');
  const personId = query.get('personId');
  const personEmail = query.get('personEmail');
  const items: Record<string, unknown>[] = [];
  for (const room of world.rooms.values()) {
    if (!room.members.has(me.uuid)) continue;
    if (roomId !== null && world.uuidIn(roomId, 'ROOM') !== room.uuid) continue;
    for (const memberUuid of room.members) {
      const member = world.people.get(memberUuid);
      if (!member) continue;
      if (personId !== null && world.uuidIn(personId, 'PEOPLE') !== member.uuid) continue;
      if (personEmail !== null && member.email !== personEmail) continue;
      items.push(world.membershipJson(room, member));
    }
  }
  return items;
}
