/**
 * Hydra ids (webex-protocol.md §4.1): the public REST API names every object with
 * base64(`ciscospark://<cluster>/<TYPE>/<uuid>`). Padded and unpadded base64 are both accepted.
 */

export type HydraType =
  | 'MESSAGE'
  | 'ROOM'
  | 'PEOPLE'
  | 'MEMBERSHIP'
  | 'ATTACHMENT_ACTION'
  | 'CONTENT'
  | 'TEAM'
  | 'TEAM_MEMBERSHIP'
  | 'WEBHOOK'
  | 'ORGANIZATION';

export interface HydraId {
  readonly cluster: string;
  readonly type: HydraType | (string & {});
  readonly uuid: string;
}

/** The cluster of commercial US organisations; PEOPLE and ORGANIZATION ids always use it. */
export const DEFAULT_CLUSTER = 'us';

const ALWAYS_US: ReadonlySet<string> = new Set(['PEOPLE', 'ORGANIZATION']);

export function buildHydraId(type: HydraType, uuid: string, cluster: string = DEFAULT_CLUSTER): string {
  const where = ALWAYS_US.has(type) ? DEFAULT_CLUSTER : cluster;
  return Buffer.from(`ciscospark://${where}/${type}/${uuid}`, 'utf8').toString('base64');
}

/** Decodes a Hydra id; undefined when it is not one. */
export function parseHydraId(id: string): HydraId | undefined {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(id)) return undefined;
  const text = Buffer.from(id.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
  const match = /^ciscospark:\/\/([^/]+)\/([A-Z_]+)\/(.+)$/.exec(text);
  if (!match) return undefined;
  const [, cluster, type, uuid] = match as unknown as [string, string, string, string];
  return { cluster, type, uuid };
}

/** The uuid inside a Hydra id, or the value itself when it is already a bare uuid. */
export function uuidOf(id: string): string {
  return parseHydraId(id)?.uuid ?? id;
}

/**
 * The Hydra cluster string of a Webex cluster id from the service catalog, as the official SDK
 * computes it: the original US clusters are `us`; others keep their first three parts
 * (`urn:TEAM:eu-central-1_k:conversation` → `urn:TEAM:eu-central-1_k`).
 */
export function hydraClusterOf(clusterId: string): string {
  if (clusterId.startsWith('urn:TEAM:us-east-2_a') || clusterId.startsWith('urn:TEAM:us-east-1_int13')) return DEFAULT_CLUSTER;
  const parts = clusterId.split(':');
  return parts.length >= 3 ? parts.slice(0, 3).join(':') : DEFAULT_CLUSTER;
}
