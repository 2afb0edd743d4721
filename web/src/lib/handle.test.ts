import { describe, expect, it } from 'vitest'
import { isRemoteAcct, parseHandle, remoteFollowUrl, searchTarget } from './handle'

describe('parseHandle', () => {
  it('reads @user@host with or without the leading @', () => {
    expect(parseHandle('@me@their.node')).toEqual({
      user: 'me',
      host: 'their.node',
      acct: 'me@their.node',
    })
    expect(parseHandle('  me@Their.Node  ')?.acct).toBe('me@their.node')
    expect(parseHandle('ana.b-c_d@pixel.example.org')?.user).toBe('ana.b-c_d')
  })

  it('keeps ports, loopback addresses and localhost', () => {
    expect(parseHandle('@me@127.0.0.1:8099')?.host).toBe('127.0.0.1:8099')
    expect(parseHandle('@me@localhost:3000')?.host).toBe('localhost:3000')
    expect(parseHandle('@me@node.example:8443')?.host).toBe('node.example:8443')
  })

  it('turns international domain names into punycode', () => {
    expect(parseHandle('@moi@café.example')?.host).toBe('xn--caf-dma.example')
  })

  it('refuses what is not a full handle', () => {
    for (const bad of [
      '',
      '@',
      'me',
      '@me',
      '@me@',
      '@@their.node',
      '@me@their.node@again',
      '@me@nodot',
      '@me@their node',
      '@me@their.node/path',
      'https://their.node/@me',
      '@me@their.node:0',
      '@me@their.node:70000',
      '@me@-bad.node',
      '@me@their..node',
      '@me@1.2.3',
      '@m e@their.node',
      '@me@their.node?x=1',
    ]) {
      expect(parseHandle(bad), bad).toBeNull()
    }
  })
})

describe('remoteFollowUrl', () => {
  const handle = parseHandle('@me@their.node')!
  it('points at the visitor’s node with the actor URL encoded', () => {
    expect(remoteFollowUrl(handle, 'https://here.node/users/ada', 'https:')).toBe(
      'https://their.node/authorize_interaction?uri=https%3A%2F%2Fhere.node%2Fusers%2Fada',
    )
  })
  it('uses http only when this page is served over http', () => {
    const local = parseHandle('me@127.0.0.1:8100')!
    expect(remoteFollowUrl(local, 'http://127.0.0.1:8099/users/ada', 'http:')).toBe(
      'http://127.0.0.1:8100/authorize_interaction?uri=http%3A%2F%2F127.0.0.1%3A8099%2Fusers%2Fada',
    )
  })
})

describe('searchTarget', () => {
  it('sends #tags to their page', () => {
    expect(searchTarget(' #Paris ')).toEqual({ path: '/tags/Paris' })
    expect(searchTarget('#été')).toEqual({ path: '/tags/%C3%A9t%C3%A9' })
  })
  it('searches everything else, and nothing for blanks', () => {
    expect(searchTarget('@bob@other.node')).toEqual({
      path: '/search',
      query: { q: '@bob@other.node' },
    })
    expect(searchTarget('#two words')).toEqual({ path: '/search', query: { q: '#two words' } })
    expect(searchTarget('#')).toEqual({ path: '/search', query: { q: '#' } })
    expect(searchTarget('   ')).toBeNull()
  })
  it('tells remote accts from local ones', () => {
    expect(isRemoteAcct('bob@other.node')).toBe(true)
    expect(isRemoteAcct('ada')).toBe(false)
  })
})
