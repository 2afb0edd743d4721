import { flushPromises, mount } from '@vue/test-utils'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import * as api from '../api'
import type { DomainBlock } from '../api'
import { locale } from '../i18n'
import DomainBlocks from './DomainBlocks.vue'
import { plugins } from './test-helpers'

vi.mock('../api', async (original) => ({
  ...(await original<typeof import('../api')>()),
  domainBlocks: vi.fn(),
  createDomainBlock: vi.fn(),
  deleteDomainBlock: vi.fn(),
}))

const list = vi.mocked(api.domainBlocks)
const create = vi.mocked(api.createDomainBlock)
const remove = vi.mocked(api.deleteDomainBlock)

const block = (over: Partial<DomainBlock> = {}): DomainBlock => ({
  id: '1',
  domain: 'spam.example',
  digest: 'd',
  created_at: '2024-07-14T20:00:00.000Z',
  severity: 'suspend',
  reject_media: false,
  reject_reports: false,
  private_comment: null,
  public_comment: 'Spam',
  obfuscate: false,
  ...over,
})

async function open() {
  const w = mount(DomainBlocks, { global: plugins().global })
  await flushPromises()
  return w
}

beforeEach(() => {
  locale.value = 'en'
  list.mockReset()
  create.mockReset()
  remove.mockReset()
})

describe('DomainBlocks', () => {
  it('lists the blocked domains with their severity and comment', async () => {
    list.mockResolvedValue({
      items: [block(), block({ id: '2', domain: 'loud.example', severity: 'silence' })],
      maxId: null,
    })
    const w = await open()
    const items = w.findAll('[data-testid="domain-block"]')
    expect(items).toHaveLength(2)
    expect(items[0]!.text()).toContain('spam.example')
    expect(items[0]!.text()).toContain('Suspend')
    expect(items[0]!.text()).toContain('Spam')
    expect(items[1]!.text()).toContain('Limit')
  })

  it('says when nothing is blocked, in French too', async () => {
    list.mockResolvedValue({ items: [], maxId: null })
    locale.value = 'fr'
    const w = await open()
    expect(w.text()).toContain('Aucun domaine n’est bloqué.')
    expect(w.text()).toContain('Domaines bloqués')
  })

  it('adds a block with its severity and public comment', async () => {
    list.mockResolvedValue({ items: [block()], maxId: null })
    create.mockResolvedValue(
      block({ id: '3', domain: 'new.example', severity: 'silence', public_comment: 'Noisy' }),
    )
    const w = await open()
    await w.get('#block-domain').setValue('  new.example ')
    await w.get('input[value="silence"]').setValue(true)
    await w.get('#block-comment').setValue('Noisy')
    await w.get('[data-testid="domain-block-form"]').trigger('submit')
    await flushPromises()
    expect(create).toHaveBeenCalledWith({
      domain: 'new.example',
      severity: 'silence',
      public_comment: 'Noisy',
    })
    const items = w.findAll('[data-testid="domain-block"]')
    expect(items.map((i) => i.find('strong').text())).toEqual(['new.example', 'spam.example'])
    expect((w.get('#block-domain').element as HTMLInputElement).value).toBe('')
  })

  it('shows the node’s refusal and keeps what was typed', async () => {
    list.mockResolvedValue({ items: [block()], maxId: null })
    create.mockRejectedValue(
      new api.ApiError(422, 'You have already imposed stricter limits on spam.example.'),
    )
    const w = await open()
    await w.get('#block-domain').setValue('sub.spam.example')
    await w.get('[data-testid="domain-block-form"]').trigger('submit')
    await flushPromises()
    expect(w.get('[role="alert"]').text()).toContain('stricter limits on spam.example')
    expect((w.get('#block-domain').element as HTMLInputElement).value).toBe('sub.spam.example')
    expect(w.findAll('[data-testid="domain-block"]')).toHaveLength(1)
  })

  it('removes a block', async () => {
    list.mockResolvedValue({
      items: [block(), block({ id: '2', domain: 'loud.example' })],
      maxId: null,
    })
    remove.mockResolvedValue({ data: {}, links: {} })
    const w = await open()
    await w.get('button[aria-label="Remove the block of spam.example"]').trigger('click')
    await flushPromises()
    expect(remove).toHaveBeenCalledWith('1')
    const items = w.findAll('[data-testid="domain-block"]')
    expect(items).toHaveLength(1)
    expect(items[0]!.text()).toContain('loud.example')
  })
})
