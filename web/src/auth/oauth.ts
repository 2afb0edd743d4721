// Signing in like any third-party Mastodon client: a registered app, authorization code + PKCE,
// the node's own login page at /oauth/authorize, and the code exchanged at /oauth/token.

import * as api from '../api'
import type { OAuthApp } from '../api'
import { challengeS256, randomToken } from './pkce'

/** What a signed-in person's token may do. */
export const USER_SCOPES = 'read write follow'
/** Staff add these to reach the admin endpoints, only when they open the admin page. */
export const ADMIN_SCOPES = `${USER_SCOPES} admin:read admin:write`

const APP_KEY = 'peerpx.app'
const CHECKED_KEY = 'peerpx.app.checked'
const PENDING_KEY = 'peerpx.oauth'

export const redirectUri = () => `${location.origin}/oauth/callback`

function storedApp(): OAuthApp | null {
  try {
    const app = JSON.parse(localStorage.getItem(APP_KEY) ?? 'null') as OAuthApp | null
    return app && app.redirect_uri === redirectUri() ? app : null
  } catch {
    return null
  }
}

async function registerApp(): Promise<OAuthApp> {
  const app = await api.createApp(redirectUri(), ADMIN_SCOPES)
  const kept: OAuthApp = {
    client_id: app.client_id,
    client_secret: app.client_secret,
    redirect_uri: redirectUri(),
  }
  localStorage.setItem(APP_KEY, JSON.stringify(kept))
  sessionStorage.setItem(CHECKED_KEY, '1')
  return kept
}

async function clientToken(app: OAuthApp, scope: string) {
  return api.oauthToken({
    grant_type: 'client_credentials',
    client_id: app.client_id,
    client_secret: app.client_secret,
    scope,
  })
}

/**
 * The app this browser registered with the node, registered now if needed. A stored app is
 * checked once per browser session: a node whose data was reset no longer knows it.
 */
export async function ensureApp(): Promise<OAuthApp> {
  const app = storedApp()
  if (!app) return registerApp()
  if (sessionStorage.getItem(CHECKED_KEY)) return app
  try {
    const t = await clientToken(app, 'read')
    await api.revokeToken(app, t.access_token)
    sessionStorage.setItem(CHECKED_KEY, '1')
    return app
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 401) return registerApp()
    throw e
  }
}

/** An app token (no user), which registration needs. */
export async function appToken(): Promise<string> {
  return (await clientToken(await ensureApp(), USER_SCOPES)).access_token
}

interface Pending {
  verifier: string
  state: string
  returnTo: string
}

/** The authorize URL for a fresh PKCE pair, remembered in this tab until the callback. */
export async function authorizeUrl(scope: string, returnTo: string): Promise<string> {
  const app = await ensureApp()
  const pending: Pending = { verifier: randomToken(), state: randomToken(16), returnTo }
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending))
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: app.client_id,
    redirect_uri: app.redirect_uri,
    scope,
    state: pending.state,
    code_challenge: await challengeS256(pending.verifier),
    code_challenge_method: 'S256',
  })
  return `/oauth/authorize?${params}`
}

export class OAuthError extends Error {}

/** Exchanges the callback's code for a token. `query` is the callback's query string. */
export async function finishSignIn(
  query: URLSearchParams,
): Promise<{ token: string; scope: string; returnTo: string }> {
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? 'null') as Pending | null
  sessionStorage.removeItem(PENDING_KEY)
  if (query.get('error')) throw new OAuthError(query.get('error') ?? 'error')
  const code = query.get('code')
  if (!pending || !code || query.get('state') !== pending.state) throw new OAuthError('state')
  const app = storedApp()
  if (!app) throw new OAuthError('state')
  const t = await api.oauthToken({
    grant_type: 'authorization_code',
    code,
    redirect_uri: app.redirect_uri,
    client_id: app.client_id,
    client_secret: app.client_secret,
    code_verifier: pending.verifier,
  })
  return { token: t.access_token, scope: t.scope, returnTo: pending.returnTo }
}

export async function revoke(token: string): Promise<void> {
  const app = storedApp()
  if (app) await api.revokeToken(app, token)
}
