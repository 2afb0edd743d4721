// The endpoints the UI uses, typed. Paths and parameters follow Mastodon's API and
// docs/api-extensions.md.

import { get, page, post, request, type Query } from './http'
import type {
  Account,
  AdminAccount,
  Context,
  CredentialAccount,
  DomainBlock,
  DomainBlockSeverity,
  Instance,
  MediaAttachment,
  NodeSettings,
  Notification,
  OAuthApp,
  Registration,
  Relationship,
  SearchResults,
  Status,
  Token,
  Visibility,
} from './types'

export * from './http'
export type * from './types'

const enc = encodeURIComponent

export const instance = () => get<Instance>('/api/v2/instance')

// OAuth

export const createApp = (redirectUri: string, scopes: string) =>
  post<OAuthApp>('/api/v1/apps', {
    client_name: 'peerpx web',
    redirect_uris: redirectUri,
    scopes,
    website: location.origin,
  })

export const oauthToken = (params: Record<string, string>) =>
  request<Token>('POST', '/oauth/token', { json: params, token: null }).then((r) => r.data)

export const revokeToken = (app: OAuthApp, token: string) =>
  request<unknown>('POST', '/oauth/revoke', {
    json: { client_id: app.client_id, client_secret: app.client_secret, token },
    token: null,
  })

// Accounts

export interface RegisterParams {
  username: string
  email: string
  password: string
  agreement: boolean
  locale: string
  reason?: string
}

export const register = (params: RegisterParams, appToken: string) =>
  request<Registration>('POST', '/api/v1/accounts', { json: params, token: appToken }).then(
    (r) => r.data,
  )

export const verifyCredentials = (token?: string) =>
  get<CredentialAccount>('/api/v1/accounts/verify_credentials', undefined, { token })

export const updateCredentials = (form: FormData) =>
  request<CredentialAccount>('PATCH', '/api/v1/accounts/update_credentials', { body: form }).then(
    (r) => r.data,
  )

export const lookup = (acct: string) => get<Account>('/api/v1/accounts/lookup', { acct })

/** Accounts, hashtags and (for signed-in people) statuses matching `q`: words, a name,
 * `@user@host`, or the URL of an account or a post; `resolve` (signed-in only) asks the node to
 * fetch an account or a post of another node it does not know yet. */
export const search = (q: string, resolve: boolean) =>
  get<SearchResults>('/api/v2/search', { q, resolve, limit: 40 })

export const accountStatuses = (id: string, query: Query) =>
  page<Status>(`/api/v1/accounts/${enc(id)}/statuses`, query)

export const followers = (id: string, maxId?: string | null) =>
  page<Account>(`/api/v1/accounts/${enc(id)}/followers`, { max_id: maxId })

export const following = (id: string, maxId?: string | null) =>
  page<Account>(`/api/v1/accounts/${enc(id)}/following`, { max_id: maxId })

export const relationships = (ids: string[]) =>
  get<Relationship[]>('/api/v1/accounts/relationships', { id: ids })

export const follow = (id: string) => post<Relationship>(`/api/v1/accounts/${enc(id)}/follow`)
export const unfollow = (id: string) => post<Relationship>(`/api/v1/accounts/${enc(id)}/unfollow`)

export const authorizeFollow = (id: string) =>
  post<Relationship>(`/api/v1/follow_requests/${enc(id)}/authorize`)
export const rejectFollow = (id: string) =>
  post<Relationship>(`/api/v1/follow_requests/${enc(id)}/reject`)

// Timelines and statuses

export const publicPhotos = (maxId?: string | null) =>
  page<Status>('/api/v1/timelines/public', { local: true, only_media: true, max_id: maxId })

export const tagPhotos = (tag: string, maxId?: string | null) =>
  page<Status>(`/api/v1/timelines/tag/${enc(tag)}`, { only_media: true, max_id: maxId })

export const homeTimeline = (maxId?: string | null) =>
  page<Status>('/api/v1/timelines/home', { max_id: maxId })

export const notifications = (maxId?: string | null) =>
  page<Notification>('/api/v1/notifications', { max_id: maxId })

export const status = (id: string) => get<Status>(`/api/v1/statuses/${enc(id)}`)
export const context = (id: string) => get<Context>(`/api/v1/statuses/${enc(id)}/context`)

export interface NewStatus {
  status: string
  media_ids?: string[]
  in_reply_to_id?: string
  sensitive?: boolean
  visibility?: Visibility
  // peerpx extensions
  title?: string
  licence?: string
  allow_download?: boolean
}

export const createStatus = (s: NewStatus) => post<Status>('/api/v1/statuses', s)
export const deleteStatus = (id: string) =>
  request<Status>('DELETE', `/api/v1/statuses/${enc(id)}`).then((r) => r.data)

export const favourite = (id: string) => post<Status>(`/api/v1/statuses/${enc(id)}/favourite`)
export const unfavourite = (id: string) => post<Status>(`/api/v1/statuses/${enc(id)}/unfavourite`)
/** Answers with the reblog, which wraps the status boosted. */
export const reblog = (id: string) => post<Status>(`/api/v1/statuses/${enc(id)}/reblog`)
/** Answers with the status no longer boosted. */
export const unreblog = (id: string) => post<Status>(`/api/v1/statuses/${enc(id)}/unreblog`)

// Media (the upload itself is in upload.ts, for its progress events)

export const describeMedia = (id: string, description: string) =>
  request<MediaAttachment>('PUT', `/api/v1/media/${enc(id)}`, { json: { description } }).then(
    (r) => r.data,
  )

export const deleteMedia = (id: string) => request<unknown>('DELETE', `/api/v1/media/${enc(id)}`)

// Administration

export const pendingAccounts = (maxId?: string | null) =>
  page<AdminAccount>('/api/v2/admin/accounts', { status: 'pending', max_id: maxId })

export const approveAccount = (id: string) =>
  post<AdminAccount>(`/api/v1/admin/accounts/${enc(id)}/approve`)
export const rejectAccount = (id: string) =>
  post<AdminAccount>(`/api/v1/admin/accounts/${enc(id)}/reject`)

export const domainBlocks = (maxId?: string | null) =>
  page<DomainBlock>('/api/v1/admin/domain_blocks', { max_id: maxId })

export interface NewDomainBlock {
  domain: string
  severity: DomainBlockSeverity
  public_comment?: string
}

export const createDomainBlock = (block: NewDomainBlock) =>
  post<DomainBlock>('/api/v1/admin/domain_blocks', block)
export const deleteDomainBlock = (id: string) =>
  request<unknown>('DELETE', `/api/v1/admin/domain_blocks/${enc(id)}`)

export const nodeSettings = () => get<NodeSettings>('/api/peerpx/v1/admin/settings')
export const updateNodeSettings = (changes: Partial<NodeSettings>) =>
  request<NodeSettings>('PATCH', '/api/peerpx/v1/admin/settings', { json: changes }).then(
    (r) => r.data,
  )
