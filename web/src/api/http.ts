// A small typed fetch wrapper: bearer token, JSON or multipart bodies, Mastodon errors and
// `Link`-header pagination. It knows nothing about Vue.

/** An error the node (or the network) gave; `message` is the node's own words when it sent some. */
export class ApiError extends Error {
  constructor(
    /** HTTP status, or 0 when the request never got an answer. */
    readonly status: number,
    message: string,
    /** Mastodon's per-field validation details (`{"username": [{"error", "description"}]}`). */
    readonly details?: Record<string, { error: string; description: string }[]>,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export type Query = Record<string, string | number | boolean | string[] | null | undefined>

export interface RequestOptions {
  query?: Query
  /** Sent as JSON. */
  json?: unknown
  /** Sent as multipart (files) or as it is. */
  body?: FormData | URLSearchParams
  /** Overrides the session's token (`null` sends none). */
  token?: string | null
  signal?: AbortSignal
}

export interface Response<T> {
  data: T
  /** Relations of the `Link` header (`next`, `prev`) to their URLs. */
  links: Record<string, string>
}

let tokenSource: () => string | null = () => null

/** Tells the client where to find the signed-in user's token. */
export function useToken(source: () => string | null): void {
  tokenSource = source
}

/** Parses an RFC 8288 `Link` header into `{rel: url}` (Mastodon sends `next` and `prev`). */
export function parseLink(header: string | null | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (!header) return out
  // Split on commas that start a new `<...>`, since URLs may themselves hold commas.
  for (const part of header.split(/,\s*(?=<)/)) {
    const url = /^\s*<([^>]*)>/.exec(part)?.[1]
    const rels = /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(part)?.[1]
    if (url === undefined || !rels) continue
    for (const rel of rels.trim().split(/\s+/)) out[rel] = url
  }
  return out
}

/** The `max_id` of a `next` link, which is what the following (older) page needs. */
export function maxIdFrom(links: Record<string, string>): string | null {
  const next = links.next
  if (!next) return null
  try {
    return new URL(next, 'http://x').searchParams.get('max_id')
  } catch {
    return null
  }
}

export function queryString(query: Query | undefined): string {
  if (!query) return ''
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue
    if (Array.isArray(value)) value.forEach((v) => params.append(`${key}[]`, v))
    else params.append(key, String(value))
  }
  const text = params.toString()
  return text ? `?${text}` : ''
}

/** The node's explanation from an error body: `error_description` (OAuth) or `error`. */
export function errorFromBody(status: number, body: unknown): ApiError {
  if (body && typeof body === 'object') {
    const b = body as { error?: unknown; error_description?: unknown; details?: unknown }
    const message =
      typeof b.error_description === 'string'
        ? b.error_description
        : typeof b.error === 'string'
          ? b.error
          : null
    if (message) return new ApiError(status, message, b.details as ApiError['details'])
  }
  return new ApiError(status, `The server answered ${status}`)
}

async function readBody(res: globalThis.Response): Promise<unknown> {
  const text = await res.text()
  if (!text) return null
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

export async function request<T>(
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<Response<T>> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  const token = options.token === undefined ? tokenSource() : options.token
  if (token) headers.Authorization = `Bearer ${token}`
  let body: BodyInit | undefined
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(options.json)
  } else if (options.body) {
    body = options.body
  }
  let res: globalThis.Response
  try {
    res = await fetch(path + queryString(options.query), {
      method,
      headers,
      body,
      signal: options.signal,
    })
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e
    throw new ApiError(0, 'network')
  }
  const data = await readBody(res)
  if (!res.ok) throw errorFromBody(res.status, data)
  return { data: data as T, links: parseLink(res.headers.get('link')) }
}

export const get = <T>(path: string, query?: Query, options: RequestOptions = {}) =>
  request<T>('GET', path, { ...options, query }).then((r) => r.data)

export const post = <T>(path: string, json?: unknown, options: RequestOptions = {}) =>
  request<T>('POST', path, { ...options, json: json ?? {} }).then((r) => r.data)

/** One page of a Mastodon list, and the `max_id` of the next (older) page, if any. */
export interface Page<T> {
  items: T[]
  maxId: string | null
}

export async function page<T>(path: string, query?: Query): Promise<Page<T>> {
  const res = await request<T[]>('GET', path, { query })
  const items = res.data ?? []
  return { items, maxId: items.length ? maxIdFrom(res.links) : null }
}
