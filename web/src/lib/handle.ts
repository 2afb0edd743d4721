// Fediverse handles (`@user@host`) and where the search box sends a query.

import type { RouteLocationRaw } from 'vue-router'
import { parseTags } from './tags'

export interface Handle {
  user: string
  /** Lower-cased host name, with its port when it has one (`node.example:8443`). */
  host: string
  /** `user@host` */
  acct: string
}

const USER = /^[\p{L}\p{N}_][\p{L}\p{N}_.-]*$/u
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

/** A host name (with a dot, or `localhost`, or an IPv4 address) and an optional port. */
function validHost(host: string): string | null {
  const m = /^([^:/?#\s@]+)(?::(\d{1,5}))?$/.exec(host)
  if (!m) return null
  const port = m[2]
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return null
  let name: string
  try {
    // Turns international names into their punycode form and lower-cases them.
    name = new URL(`http://${m[1]}`).hostname
  } catch {
    return null
  }
  // URL reads `1.2.3` as the address 1.2.0.3: take numeric hosts only as four plain numbers.
  if (/^[\d.]+$/.test(m[1]!) && name !== m[1]) return null
  const labels = name.split('.')
  if (name.length > 253 || !labels.every((l) => LABEL.test(l))) return null
  if (labels.length < 2 && name !== 'localhost') return null
  // The last label of a domain name is never all digits, except in an IPv4 address.
  const ipv4 = labels.length === 4 && labels.every((l) => /^\d{1,3}$/.test(l) && Number(l) < 256)
  if (/^\d+$/.test(labels.at(-1)!) && !ipv4) return null
  return port === undefined ? name : `${name}:${port}`
}

/** `@me@their.node` or `me@their.node` → its parts; anything else → null. */
export function parseHandle(text: string): Handle | null {
  const parts = text.trim().replace(/^@/, '').split('@')
  if (parts.length !== 2) return null
  const [user, rawHost] = parts as [string, string]
  if (!USER.test(user) || user.length > 64) return null
  const host = validHost(rawHost)
  return host ? { user, host, acct: `${user}@${host}` } : null
}

/** Whether an `acct` names an account of another node (`user@host`, not just `user`). */
export const isRemoteAcct = (acct: string): boolean => acct.includes('@')

/**
 * Mastodon's remote-interaction page on the visitor's own node, which asks them to follow the
 * actor `actorUri`. Plain http only when this page itself is served over http (loopback tests).
 */
export function remoteFollowUrl(handle: Handle, actorUri: string, pageProtocol: string): string {
  const scheme = pageProtocol === 'http:' ? 'http' : 'https'
  return `${scheme}://${handle.host}/authorize_interaction?uri=${encodeURIComponent(actorUri)}`
}

/**
 * Where the search box goes: `#tag` to the tag's page, anything else to the search page;
 * null when there is nothing to search for.
 */
export function searchTarget(query: string): RouteLocationRaw | null {
  const q = query.trim()
  if (!q) return null
  if (q.startsWith('#')) {
    const tag = parseTags(q)[0]
    if (tag && q.replace(/^#+/, '') === tag) return { path: `/tags/${encodeURIComponent(tag)}` }
  }
  return { path: '/search', query: { q } }
}
