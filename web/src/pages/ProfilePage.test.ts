import { flushPromises, mount } from '@vue/test-utils'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import { createPinia, setActivePinia } from 'pinia'
import * as api from '../api'
import PhotoGrid from '../components/PhotoGrid.vue'
import { account } from '../components/test-helpers'
import ProfilePage from './ProfilePage.vue'

vi.mock('../api', async (original) => ({
  ...(await original<typeof import('../api')>()),
  lookup: vi.fn(),
  accountStatuses: vi.fn(),
}))

const lookup = vi.mocked(api.lookup)
const accountStatuses = vi.mocked(api.accountStatuses)

async function open(path: string) {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/@:user', component: ProfilePage },
      { path: '/:rest(.*)*', component: { template: '<div />' } },
    ],
  })
  const pinia = createPinia()
  setActivePinia(pinia)
  await router.push(path)
  await router.isReady()
  const w = mount(ProfilePage, { global: { plugins: [router, pinia] } })
  await flushPromises()
  return w
}

beforeEach(() => {
  lookup.mockReset()
  accountStatuses.mockReset()
  accountStatuses.mockResolvedValue({ items: [], maxId: null })
})

describe('ProfilePage', () => {
  it('shows a remote account found by its acct, without a photo grid', async () => {
    lookup.mockResolvedValue(
      account({
        id: '20',
        username: 'bob',
        acct: 'bob@other.node',
        display_name: 'Bob',
        url: 'https://other.node/@bob',
        uri: 'https://other.node/users/bob',
        followers_count: 3,
      }),
    )
    const w = await open('/@bob@other.node')
    expect(lookup).toHaveBeenCalledWith('bob@other.node')
    expect(w.get('h1').text()).toBe('Bob')
    const remote = w.get('[data-testid="remote-profile"]')
    expect(remote.text()).toContain('This account lives on other.node.')
    expect(remote.text()).toContain(
      'Photos from other nodes appear once federation of posts lands.',
    )
    expect(remote.get('a').attributes('href')).toBe('https://other.node/@bob')
    expect(w.text()).toContain('3 followers')
    expect(w.findComponent(PhotoGrid).exists()).toBe(false)
    expect(accountStatuses).not.toHaveBeenCalled()
    // A visitor may follow from their own node.
    expect(w.text()).toContain('Follow from your own node')
  })

  it('keeps the photo grid for local accounts', async () => {
    lookup.mockResolvedValue(account())
    const w = await open('/@ada')
    expect(lookup).toHaveBeenCalledWith('ada')
    expect(w.find('[data-testid="remote-profile"]').exists()).toBe(false)
    expect(w.findComponent(PhotoGrid).exists()).toBe(true)
  })
})
