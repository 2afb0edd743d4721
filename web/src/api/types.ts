// The parts of the node's Mastodon entities (and peerpx extensions) this UI reads.
// See docs/api-extensions.md for the extensions.

export interface Field {
  name: string
  value: string
}

export interface Account {
  id: string
  username: string
  acct: string
  display_name: string
  locked: boolean
  bot: boolean
  discoverable: boolean | null
  created_at: string
  note: string
  url: string
  /** The ActivityPub actor's id. */
  uri: string
  avatar: string
  header: string
  followers_count: number
  following_count: number
  statuses_count: number
  fields: Field[]
  /** peerpx: `username@domain`. */
  fqn?: string
}

export interface Role {
  id: string
  name: string
  permissions: string
}

export interface CredentialAccount extends Account {
  source: {
    note: string
    fields: Field[]
    privacy: string
    sensitive: boolean
    language: string | null
    follow_requests_count: number
  }
  role?: Role
}

export interface Dimensions {
  width: number
  height: number
  aspect: number
}

export interface Exif {
  camera_make?: string
  camera_model?: string
  lens_model?: string
  exposure_time?: string
  f_number?: number
  iso?: number
  focal_length_mm?: number
  taken_at?: string
  location?: { latitude: number; longitude: number }
}

export interface MediaAttachment {
  id: string
  type: string
  url: string
  preview_url: string
  description: string | null
  blurhash: string | null
  meta: {
    original?: Dimensions
    small?: Dimensions
    exif?: Exif
  }
  peerpx?: {
    original_url?: string
    cid?: { original: string; small: string; large: string }
  }
}

export interface Licence {
  id: string
  name: string
  url: string
}

export interface Tag {
  name: string
  url: string
  /** Uses per day, newest first (search results; may be empty). */
  history?: { day: string; uses: string; accounts: string }[]
  /** Whether the signed-in viewer follows the tag (search results). */
  following?: boolean
}

export type Visibility = 'public' | 'unlisted' | 'private' | 'direct'

export interface Status {
  id: string
  created_at: string
  in_reply_to_id: string | null
  in_reply_to_account_id: string | null
  sensitive: boolean
  spoiler_text: string
  visibility: Visibility
  url: string
  replies_count: number
  favourites_count: number
  favourited?: boolean
  reblogs_count?: number
  reblogged?: boolean
  /** For a reblog (boost): the status boosted; the reblog itself has no content. */
  reblog?: Status | null
  content: string
  account: Account
  media_attachments: MediaAttachment[]
  tags: Tag[]
  peerpx?: {
    title: string | null
    licence: Licence
    allow_download: boolean
  }
}

export interface Context {
  ancestors: Status[]
  descendants: Status[]
}

export interface Relationship {
  id: string
  following: boolean
  followed_by: boolean
  requested: boolean
  blocking: boolean
  blocked_by: boolean
}

export type NotificationType = 'mention' | 'favourite' | 'reblog' | 'follow' | 'follow_request'

export interface Notification {
  id: string
  type: NotificationType | string
  created_at: string
  account: Account
  status: Status | null
}

export type RegistrationsMode = 'open' | 'approval' | 'closed'

export interface Instance {
  domain: string
  title: string
  description: string
  configuration: {
    statuses: { max_characters: number; max_media_attachments: number }
    media_attachments: {
      supported_mime_types: string[]
      image_size_limit: number
      description_limit?: number
    }
    peerpx?: { licences: Licence[]; profile_image_size_limit: number }
  }
  registrations: {
    enabled: boolean
    approval_required: boolean
    message: string | null
    mode?: RegistrationsMode
  }
}

export interface Token {
  access_token: string
  token_type: string
  scope: string
  created_at: number
}

/** `POST /api/v1/accounts`, with peerpx's `approval_required` and `message`. */
export interface Registration extends Token {
  approval_required?: boolean
  message?: string
}

export interface OAuthApp {
  client_id: string
  client_secret: string
  redirect_uri: string
}

export interface AdminAccount {
  id: string
  username: string
  email: string
  created_at: string
  invite_request: string | null
  approved: boolean
  account: Account
}

/** How hard a domain block hits: `suspend` stops federation with the domain. */
export type DomainBlockSeverity = 'silence' | 'suspend' | 'noop'

/** Mastodon's `Admin::DomainBlock`. */
export interface DomainBlock {
  id: string
  domain: string
  digest: string
  created_at: string
  severity: DomainBlockSeverity
  reject_media: boolean
  reject_reports: boolean
  private_comment: string | null
  public_comment: string | null
  obfuscate: boolean
}

export interface NodeSettings {
  registrations_mode: RegistrationsMode
  title: string | null
  description: string | null
  contact_email: string | null
  contact_username: string | null
}

export interface SearchResults {
  accounts: Account[]
  statuses: Status[]
  hashtags: Tag[]
}
