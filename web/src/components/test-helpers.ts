// Shared set-up for component tests: a router with the app's paths and a fresh Pinia.

import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { createMemoryHistory, createRouter, type Router } from 'vue-router'
import { defineComponent } from 'vue'
import type { Account, MediaAttachment, Status } from '../api'

const Empty = defineComponent({ template: '<div />' })

export function plugins(): { router: Router; pinia: Pinia; global: { plugins: [Router, Pinia] } } {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [{ path: '/:rest(.*)*', component: Empty }],
  })
  const pinia = createPinia()
  setActivePinia(pinia)
  return { router, pinia, global: { plugins: [router, pinia] } }
}

export function account(over: Partial<Account> = {}): Account {
  return {
    id: '7',
    username: 'ada',
    acct: 'ada',
    display_name: 'Ada',
    locked: false,
    bot: false,
    discoverable: true,
    created_at: '2024-01-01T00:00:00.000Z',
    note: '',
    url: 'http://node.test/@ada',
    uri: 'http://node.test/users/ada',
    avatar: '/avatars/original/missing.png',
    header: '/headers/original/missing.png',
    followers_count: 0,
    following_count: 0,
    statuses_count: 0,
    fields: [],
    ...over,
  }
}

export function photo(id: string, width = 1500, height = 1000): MediaAttachment {
  return {
    id,
    type: 'image',
    url: `/ipfs/large-${id}`,
    preview_url: `/ipfs/small-${id}`,
    description: `photo ${id}`,
    blurhash: null,
    meta: {
      original: { width, height, aspect: width / height },
      small: { width: 640, height: Math.round((640 * height) / width), aspect: width / height },
    },
  }
}

export function status(id: string, media: MediaAttachment[], over: Partial<Status> = {}): Status {
  return {
    id,
    created_at: '2024-07-14T20:00:00.000Z',
    in_reply_to_id: null,
    in_reply_to_account_id: null,
    sensitive: false,
    spoiler_text: '',
    visibility: 'public',
    url: `http://node.test/@ada/${id}`,
    replies_count: 0,
    favourites_count: 0,
    content: '<p>caption</p>',
    account: account(),
    media_attachments: media,
    tags: [],
    ...over,
  }
}
