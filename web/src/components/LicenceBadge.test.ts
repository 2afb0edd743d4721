import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import LicenceBadge from './LicenceBadge.vue'

describe('LicenceBadge', () => {
  it('links a Creative Commons licence to its deed with one icon per element', () => {
    const w = mount(LicenceBadge, {
      props: {
        licence: {
          id: 'cc-by-sa',
          name: 'Creative Commons Attribution-ShareAlike 4.0',
          url: 'https://creativecommons.org/licenses/by-sa/4.0/',
        },
      },
    })
    const a = w.get('a')
    expect(a.attributes('href')).toBe('https://creativecommons.org/licenses/by-sa/4.0/')
    expect(a.attributes('rel')).toContain('license')
    expect(w.findAll('svg')).toHaveLength(3)
    expect(w.text()).toContain('Attribution-ShareAlike')
  })

  it('shows all rights reserved without a link', () => {
    const w = mount(LicenceBadge, {
      props: { licence: { id: 'all-rights-reserved', name: 'All rights reserved', url: '' } },
    })
    expect(w.find('a').exists()).toBe(false)
    expect(w.text()).toContain('©')
  })
})
