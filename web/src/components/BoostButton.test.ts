import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { CredentialAccount, Status } from '../api'
import { useSession } from '../stores/session'
import BoostButton from './BoostButton.vue'
import StatusCard from './StatusCard.vue'
import { account, plugins, status } from './test-helpers'

function node(routes: Record<string, unknown>) {
  const fetch = vi.fn(async (url: string) => {
    const path = url.split('?')[0]!
    if (!(path in routes)) return new Response('{"error":"Record not found"}', { status: 404 })
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

const me = account({ id: '1', username: 'me', acct: 'me' })

describe('BoostButton', () => {
  it('boosts with the count from the reblog it gets back, then undoes it', async () => {
    const post = status('5', [], { reblogs_count: 2, reblogged: false })
    const boosted = { ...post, reblogs_count: 3, reblogged: true }
    const fetch = node({
      '/api/v1/statuses/5/reblog': status('9', [], { account: me, content: '', reblog: boosted }),
      '/api/v1/statuses/5/unreblog': { ...post, reblogs_count: 2, reblogged: false },
    })
    const p = plugins()
    signedIn(p)
    const w = mount(BoostButton, {
      props: {
        modelValue: post,
        'onUpdate:modelValue': (s: Status) => w.setProps({ modelValue: s }),
      },
      global: p.global,
    })
    expect(w.get('button').text()).toContain('Boost')
    expect(w.get('[data-testid="boost-count"]').text()).toBe('2 boosts')
    await w.get('button').trigger('click')
    await flushPromises()
    expect(fetch.mock.calls.at(-1)![0]).toBe('/api/v1/statuses/5/reblog')
    // The post itself, not the reblog wrapping it, is what the button now shows.
    expect(w.props('modelValue').id).toBe('5')
    expect(w.get('button').text()).toContain('Boosted')
    expect(w.get('button').attributes('aria-pressed')).toBe('true')
    expect(w.get('[data-testid="boost-count"]').text()).toBe('3 boosts')
    await w.get('button').trigger('click')
    await flushPromises()
    expect(fetch.mock.calls.at(-1)![0]).toBe('/api/v1/statuses/5/unreblog')
    expect(w.get('button').attributes('aria-pressed')).toBe('false')
    expect(w.get('[data-testid="boost-count"]').text()).toBe('2 boosts')
  })

  it('is not offered for followers-only posts, nor to visitors', async () => {
    node({})
    const p = plugins()
    signedIn(p)
    const hidden = mount(BoostButton, {
      props: { modelValue: status('5', [], { visibility: 'private', reblogs_count: 0 }) },
      global: p.global,
    })
    expect(hidden.find('button').exists()).toBe(false)
    const visitor = mount(BoostButton, {
      props: { modelValue: status('5', [], { reblogs_count: 1 }) },
      global: plugins().global,
    })
    expect(visitor.find('button').exists()).toBe(false)
    expect(visitor.get('[data-testid="boost-count"]').text()).toBe('1 boost')
  })
})

describe('StatusCard', () => {
  it('shows a boost as the boosted post, with who boosted it', async () => {
    node({})
    const p = plugins()
    const original = status('5', [], { content: '<p>Gulls over the pier</p>', reblogs_count: 1 })
    const boost = status('9', [], {
      account: account({ id: '2', username: 'ben', acct: 'ben', display_name: 'Ben' }),
      content: '',
      reblog: original,
    })
    const w = mount(StatusCard, { props: { modelValue: boost }, global: p.global })
    expect(w.get('[data-testid="boosted-by"]').text()).toContain('Boosted by Ben')
    expect(w.text()).toContain('Gulls over the pier')
    // Links go to the boosted post, under its author.
    expect(w.html()).toContain('/@ada/5')
    expect(w.html()).not.toContain('/@ben/9')
  })

  it('shows no boost label on a plain post', () => {
    node({})
    const w = mount(StatusCard, {
      props: { modelValue: status('5', []) },
      global: plugins().global,
    })
    expect(w.find('[data-testid="boosted-by"]').exists()).toBe(false)
  })
})
