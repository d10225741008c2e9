/**
 * Webex list pagination: RFC 5988 `Link` headers with rel="next". The next link is known to drop
 * query parameters of the first request (e.g. `mentionedPeople=me`, WebexPythonSDK PR #169), so
 * every parameter of the first request that the link lacks is added back.
 */

/** The URLs of a `Link` header by relation ("next", "prev", "first", "last"). */
export function parseLinkHeader(header: string | null | undefined): Map<string, string> {
  const links = new Map<string, string>();
  if (!header) return links;
  for (const match of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const [, url, params] = match as unknown as [string, string, string];
    const rel = /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(params)?.[1];
    if (rel) for (const name of rel.trim().split(/\s+/)) links.set(name.toLowerCase(), url);
  }
  return links;
}

/** `next` with every query parameter of `first` that it dropped added back. */
export function restoreDroppedParams(next: string, first: URLSearchParams): string {
  const url = new URL(next);
  for (const [key, value] of first) {
    if (!url.searchParams.has(key)) url.searchParams.append(key, value);
  }
  return url.toString();
}

/** A list: iterate it with `for await`, or collect it with `all()`. Pages are fetched as you go. */
export interface Paged<T> extends AsyncIterable<T> {
  /** Every item of every page. */
  all(): Promise<T[]>;
}

export interface PagingBounds {
  /** The URL of the first page. */
  readonly first: string;
  /** Pages read at most; one more next link is an error. */
  readonly maxPages: number;
  /** Stops the list before the next page. */
  readonly signal?: AbortSignal;
  /** The error for a list that cannot go on (`url`: the page it would read next). */
  readonly fail: (url: string, why: string) => Error;
}

/**
 * Pages from `first` on, following next links. A server cannot make it read for ever: a next link
 * that names a page already read (a loop of any length) is an error, and so is a page beyond
 * `maxPages`; `signal` stops it between pages (and aborts the page under way, through `fetchPage`).
 */
export function paged<T>(fetchPage: (url: string) => Promise<{ items: T[]; next: string | undefined }>, bounds: PagingBounds): Paged<T> {
  const iterate = async function* (): AsyncGenerator<T> {
    const read = new Set<string>();
    let url: string | undefined = bounds.first;
    while (url !== undefined) {
      bounds.signal?.throwIfAborted();
      if (read.size >= bounds.maxPages) throw bounds.fail(url, `it has more than ${bounds.maxPages} pages (maxPages); the rest was not read`);
      read.add(pageKey(url));
      const page = await fetchPage(url);
      yield* page.items;
      url = page.next;
      if (url !== undefined && read.has(pageKey(url))) {
        throw bounds.fail(url, `the next-page link names a page already read (${url}): the server's pagination loops; stopped after ${read.size} page${read.size === 1 ? '' : 's'}`);
      }
    }
  };
  return {
    [Symbol.asyncIterator]: iterate,
    async all() {
      const items: T[] = [];
      for await (const item of iterate()) items.push(item);
      return items;
    },
  };
}

/** A page's URL, normalised (parameters sorted), so that one page named two ways is seen as one. */
function pageKey(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.searchParams.sort();
    parsed.hash = '';
    return parsed.toString();
  } catch {
    return url;
  }
}
