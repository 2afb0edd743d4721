import { mount } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import RemoteFollow from './RemoteFollow.vue'
import { account, plugins } from './test-helpers'

afterEach(() => vi.restoreAllMocks())

describe('RemoteFollow', () => {
  it('refuses an incomplete address', async () => {
    const w = mount(RemoteFollow, { props: { account: account() }, global: plugins().global })
    await w.get('input').setValue('@me')
    await w.get('form').trigger('submit')
    expect(w.get('[role="alert"]').text()).toContain('@you@your.node')
    expect(w.get('input').attributes('aria-invalid')).toBe('true')
    expect(w.find('[data-testid="remote-follow-next"]').exists()).toBe(false)
  })

  it('says where it goes, then sends the visitor to their node', async () => {
    const assign = vi.fn()
    vi.spyOn(window, 'location', 'get').mockReturnValue({
      protocol: 'http:',
      assign,
    } as unknown as Location)
    const w = mount(RemoteFollow, { props: { account: account() }, global: plugins().global })
    await w.get('input').setValue(' @Me@Their.Node:8100 ')
    await w.get('form').trigger('submit')
    const next = w.get('[data-testid="remote-follow-next"]')
    expect(next.text()).toContain('You will go to their.node:8100')
    expect(next.text()).toContain('@ada')
    const url =
      'http://their.node:8100/authorize_interaction?uri=http%3A%2F%2Fnode.test%2Fusers%2Fada'
    expect(next.text()).toContain(url)
    expect(assign).not.toHaveBeenCalled()
    expect(next.get('button').text()).toBe('Go to their.node:8100')
    await w.get('form').trigger('submit')
    expect(assign).toHaveBeenCalledWith(url)
  })

  it('takes back the confirmation when the address changes', async () => {
    const w = mount(RemoteFollow, { props: { account: account() }, global: plugins().global })
    await w.get('input').setValue('me@their.node')
    await w.get('form').trigger('submit')
    expect(w.find('[data-testid="remote-follow-next"]').exists()).toBe(true)
    await w.get('input').setValue('me@their.nod')
    expect(w.find('[data-testid="remote-follow-next"]').exists()).toBe(false)
  })
})
