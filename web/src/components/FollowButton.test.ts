import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { CredentialAccount, Relationship } from '../api'
import { useSession } from '../stores/session'
import FollowButton from './FollowButton.vue'
import { account, plugins } from './test-helpers'

const rel = (over: Partial<Relationship>): Relationship => ({
  id: '9',
  following: false,
  followed_by: false,
  requested: false,
  blocking: false,
  blocked_by: false,
  ...over,
})

function node(routes: Record<string, unknown>) {
  const fetch = vi.fn(async (url: string) => {
    const path = url.split('?')[0]!
    return new Response(JSON.stringify(routes[path]), { status: 200 })
  })
  vi.stubGlobal('fetch', fetch)
  return fetch
}

function signedIn(p: ReturnType<typeof plugins>) {
  const session = useSession(p.pinia)
  session.token = 'token'
  session.me = account({ id: '1', username: 'me', acct: 'me' }) as CredentialAccount
}

afterEach(() => vi.unstubAllGlobals())

describe('FollowButton', () => {
  it('follows, then offers to unfollow', async () => {
    const fetch = node({
      '/api/v1/accounts/relationships': [rel({})],
      '/api/v1/accounts/9/follow': rel({ following: true }),
    })
    const p = plugins()
    signedIn(p)
    const w = mount(FollowButton, { props: { account: account({ id: '9' }) }, global: p.global })
    await flushPromises()
    expect(w.get('button').text()).toBe('Follow')
    await w.get('button').trigger('click')
    await flushPromises()
    expect(fetch.mock.calls.at(-1)![0]).toBe('/api/v1/accounts/9/follow')
    expect(w.get('button').text()).toBe('Unfollow')
    expect(w.emitted('changed')).toHaveLength(1)
  })

  it('shows a pending request to a locked account', async () => {
    node({ '/api/v1/accounts/relationships': [rel({ requested: true })] })
    const p = plugins()
    signedIn(p)
    const w = mount(FollowButton, {
      props: { account: account({ id: '9', locked: true }) },
      global: p.global,
    })
    await flushPromises()
    expect(w.get('button').text()).toBe('Cancel request')
    expect(w.text()).toContain('waiting for their answer')
  })

  it('shows nothing to visitors or on one’s own profile', async () => {
    const fetch = node({})
    const visitor = mount(FollowButton, { props: { account: account() }, global: plugins().global })
    const p = plugins()
    signedIn(p)
    const self = mount(FollowButton, { props: { account: account({ id: '1' }) }, global: p.global })
    await flushPromises()
    expect(visitor.find('button').exists()).toBe(false)
    expect(self.find('button').exists()).toBe(false)
    expect(fetch).not.toHaveBeenCalled()
  })
})
