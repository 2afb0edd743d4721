import { flushPromises, mount } from '@vue/test-utils'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import * as api from '../api'
import type { CredentialAccount, Relationship, SearchResults } from '../api'
import { account, photo, plugins, status } from '../components/test-helpers'
import { useSession } from '../stores/session'
import SearchPage from './SearchPage.vue'

vi.mock('../api', async (original) => ({
  ...(await original<typeof import('../api')>()),
  search: vi.fn(),
  relationships: vi.fn(),
  follow: vi.fn(),
}))

const search = vi.mocked(api.search)
const relationships = vi.mocked(api.relationships)
const follow = vi.mocked(api.follow)

const rel = (over: Partial<Relationship> = {}): Relationship => ({
  id: '20',
  following: false,
  followed_by: false,
  requested: false,
  blocking: false,
  blocked_by: false,
  ...over,
})
const results = (accounts = [account()], over: Partial<SearchResults> = {}): SearchResults => ({
  accounts,
  statuses: [],
  hashtags: [],
  ...over,
})
const bob = account({
  id: '20',
  username: 'bob',
  acct: 'bob@other.node',
  display_name: 'Bob',
  uri: 'https://other.node/users/bob',
})

async function open(q: string | null, signedIn = false) {
  const p = plugins()
  if (signedIn) {
    const session = useSession(p.pinia)
    session.token = 'token'
    session.me = account({ id: '1', username: 'me', acct: 'me' }) as CredentialAccount
  }
  await p.router.push(q === null ? '/search' : { path: '/search', query: { q } })
  await p.router.isReady()
  const w = mount(SearchPage, { global: p.global })
  await flushPromises()
  return { w, router: p.router }
}

beforeEach(() => {
  search.mockReset()
  relationships.mockReset()
  follow.mockReset()
})

describe('SearchPage', () => {
  it('asks for a query when there is none', async () => {
    const { w } = await open(null)
    expect(w.find('[data-testid="search-empty"]').text()).toContain('@someone@their.node')
    expect(search).not.toHaveBeenCalled()
  })

  it('lists matching accounts for a visitor without resolving remote ones', async () => {
    search.mockResolvedValue(results([account(), bob]))
    const { w } = await open('  b ')
    expect(search).toHaveBeenCalledWith('b', false)
    const items = w.findAll('[data-testid="search-account"]')
    expect(items).toHaveLength(2)
    expect(items[1]!.text()).toContain('Bob')
    expect(items[1]!.text()).toContain('@bob@other.node')
    expect(items[1]!.get('a').attributes('href')).toBe('/@bob@other.node')
    expect(items[1]!.get('img').attributes('src')).toBe(bob.avatar)
    // Visitors get no follow buttons (nor relationship requests).
    expect(w.find('button').exists()).toBe(false)
    expect(relationships).not.toHaveBeenCalled()
  })

  it('resolves @user@host for a signed-in user and follows the remote account', async () => {
    search.mockResolvedValue(results([bob]))
    relationships.mockResolvedValue([rel()])
    follow.mockResolvedValue(rel({ requested: true }))
    const { w } = await open('@bob@other.node', true)
    expect(search).toHaveBeenCalledWith('@bob@other.node', true)
    expect(relationships).toHaveBeenCalledWith(['20'])
    const button = w.get('[data-testid="search-account"] button')
    expect(button.text()).toBe('Follow')
    await button.trigger('click')
    await flushPromises()
    expect(follow).toHaveBeenCalledWith('20')
    expect(w.get('[data-testid="search-account"] button').text()).toBe('Cancel request')
    expect(w.text()).toContain('waiting for their answer')
  })

  it('says when nothing matches, and offers visitors to sign in for remote handles', async () => {
    search.mockResolvedValue(results([]))
    const { w } = await open('@nobody@other.node')
    expect(w.get('[data-testid="search-no-results"]').text()).toBe(
      'Nothing matches “@nobody@other.node”.',
    )
    const signIn = w.get('a[href^="/signin"]')
    expect(signIn.text()).toContain('Sign in to look up accounts and photos on other nodes')
    expect(decodeURIComponent(signIn.attributes('href')!)).toContain('next=/search?q=')
  })

  it('shows the node’s error and searches again on demand', async () => {
    search.mockRejectedValueOnce(new api.ApiError(503, 'The remote node did not answer'))
    search.mockResolvedValueOnce(results([bob]))
    const { w } = await open('bob@other.node', true)
    relationships.mockResolvedValue([rel()])
    const error = w.get('[data-testid="search-error"]')
    expect(error.get('[role="alert"]').text()).toBe('The remote node did not answer')
    expect(w.find('[data-testid="search-account"]').exists()).toBe(false)
    await error.get('button').trigger('click')
    await flushPromises()
    expect(search).toHaveBeenCalledTimes(2)
    expect(w.find('[data-testid="search-error"]').exists()).toBe(false)
    expect(w.findAll('[data-testid="search-account"]')).toHaveLength(1)
  })

  it('sends #tag queries to the tag page', async () => {
    const { router } = await open('#Paris')
    await flushPromises()
    expect(router.currentRoute.value.path).toBe('/tags/Paris')
    expect(search).not.toHaveBeenCalled()
  })

  it('searches again when the query changes', async () => {
    search.mockResolvedValue(results([]))
    const { router } = await open('ada')
    await router.push({ path: '/search', query: { q: 'bob' } })
    await flushPromises()
    expect(search.mock.calls.map((c) => c[0])).toEqual(['ada', 'bob'])
  })

  it('shows hashtags linking to their pages and matching posts with photos as a grid', async () => {
    vi.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockReturnValue(1000)
    search.mockResolvedValue(
      results([], {
        hashtags: [
          { name: 'cycling', url: 'http://node.test/tags/cycling', history: [] },
          { name: 'cityscape', url: 'http://node.test/tags/cityscape', history: [] },
        ],
        statuses: [
          status('31', [photo('a')]),
          // A comment without a photo is not a photo.
          status('32', []),
          status('33', [photo('b', 1000, 1500), photo('c')]),
        ],
      }),
    )
    relationships.mockResolvedValue([])
    const { w } = await open('cy', true)
    expect(search).toHaveBeenCalledWith('cy', true)
    expect(w.get('h1').text()).toBe('Results for “cy”')
    const tags = w.findAll('[data-testid="search-hashtag"] a')
    expect(tags.map((a) => a.text())).toEqual(['#cycling', '#cityscape'])
    expect(tags.map((a) => a.attributes('href'))).toEqual(['/tags/cycling', '/tags/cityscape'])
    const grid = w.get('[data-testid="search-photos"]')
    expect(grid.get('h2').text()).toBe('Photos')
    const tiles = grid.findAll('[data-testid="photo-tile"]')
    expect(tiles.map((a) => a.attributes('href'))).toEqual(['/@ada/31', '/@ada/33'])
    expect(grid.findAll('img')[0]!.attributes('alt')).toBe('photo a')
    expect(w.find('[data-testid="search-account"]').exists()).toBe(false)
    expect(w.find('[data-testid="search-no-results"]').exists()).toBe(false)
    // Signed in: no invitation to sign in.
    expect(w.find('[data-testid="search-sign-in"]').exists()).toBe(false)
  })

  it('resolves a photo’s URL for a signed-in user and shows the photo', async () => {
    vi.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockReturnValue(1000)
    const remote = status('40', [photo('r')], {
      account: bob,
      url: 'https://other.node/@bob/99',
    })
    search.mockResolvedValue(results([], { statuses: [remote] }))
    const url = 'https://other.node/users/bob/statuses/99'
    const { w } = await open(url, true)
    expect(search).toHaveBeenCalledWith(url, true)
    const tiles = w.findAll('[data-testid="search-photos"] [data-testid="photo-tile"]')
    expect(tiles).toHaveLength(1)
    expect(tiles[0]!.attributes('href')).toBe('/@bob@other.node/40')
    expect(w.find('[data-testid="search-no-results"]').exists()).toBe(false)
  })

  it('tells visitors that photos are searched for signed-in people', async () => {
    search.mockResolvedValue(
      results([], { hashtags: [{ name: 'sunset', url: 'http://node.test/tags/sunset' }] }),
    )
    const { w } = await open('sunset')
    expect(search).toHaveBeenCalledWith('sunset', false)
    expect(w.findAll('[data-testid="search-hashtag"]')).toHaveLength(1)
    expect(w.find('[data-testid="search-photos"]').exists()).toBe(false)
    expect(w.get('[data-testid="search-sign-in"] a').text()).toBe(
      'Sign in to search photos by their captions and descriptions.',
    )
  })
})
