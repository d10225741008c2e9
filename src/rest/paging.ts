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

export function paged<T>(fetchPage: (url: string | undefined) => Promise<{ items: T[]; next: string | undefined }>): Paged<T> {
  const iterate = async function* (): AsyncGenerator<T> {
    let url: string | undefined;
    let first = true;
    while (first || url !== undefined) {
      first = false;
      const page = await fetchPage(url);
      yield* page.items;
      url = page.next;
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
