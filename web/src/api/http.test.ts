import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError, maxIdFrom, page, parseLink, queryString, request, useToken } from './http'

const mastodonLink =
  '<http://127.0.0.1:8099/api/v1/timelines/public?local=true&only_media=true&max_id=103>; rel="next", ' +
  '<http://127.0.0.1:8099/api/v1/timelines/public?local=true&only_media=true&min_id=120>; rel="prev"'

function answer(status: number, body: unknown, headers: Record<string, string> = {}) {
  return vi.fn(
    async () => new Response(body === undefined ? '' : JSON.stringify(body), { status, headers }),
  )
}

afterEach(() => {
  vi.unstubAllGlobals()
  useToken(() => null)
})

describe('parseLink', () => {
  it('reads the next and prev relations of a Mastodon Link header', () => {
    const links = parseLink(mastodonLink)
    expect(links.next).toContain('max_id=103')
    expect(links.prev).toContain('min_id=120')
  })

  it('keeps commas inside URLs and reads several rels on one link', () => {
    const links = parseLink('<https://a.example/x?tags=a,b>; rel="next last"')
    expect(links).toEqual({
      next: 'https://a.example/x?tags=a,b',
      last: 'https://a.example/x?tags=a,b',
    })
  })

  it('gives nothing for an absent or malformed header', () => {
    expect(parseLink(null)).toEqual({})
    expect(parseLink('garbage')).toEqual({})
  })

  it('takes the max_id of the next page', () => {
    expect(maxIdFrom(parseLink(mastodonLink))).toBe('103')
    expect(maxIdFrom({})).toBeNull()
  })
})

describe('queryString', () => {
  it('leaves out empty values and writes lists Rails-style', () => {
    expect(queryString({ a: 1, b: null, c: undefined, d: true, id: ['1', '2'] })).toBe(
      '?a=1&d=true&id%5B%5D=1&id%5B%5D=2',
    )
    expect(queryString({})).toBe('')
  })
})

describe('request', () => {
  it('sends the bearer token and JSON body', async () => {
    const fetch = answer(200, { ok: true })
    vi.stubGlobal('fetch', fetch)
    useToken(() => 'secret')
    await request('POST', '/api/v1/statuses', { json: { status: 'hi' } })
    const [, init] = fetch.mock.calls[0] as unknown as [string, RequestInit]
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer secret')
    expect(init.body).toBe('{"status":"hi"}')
  })

  it("turns an error body into an ApiError with the node's message", async () => {
    vi.stubGlobal(
      'fetch',
      answer(422, {
        error: 'Validation failed: Username has already been taken',
        details: { username: [{ error: 'ERR_TAKEN', description: 'has already been taken' }] },
      }),
    )
    const e = await request('POST', '/api/v1/accounts').catch((x: unknown) => x)
    expect(e).toBeInstanceOf(ApiError)
    expect((e as ApiError).status).toBe(422)
    expect((e as ApiError).message).toBe('Validation failed: Username has already been taken')
    expect((e as ApiError).details?.username?.[0]?.error).toBe('ERR_TAKEN')
  })

  it('prefers the OAuth error_description to the error code', async () => {
    vi.stubGlobal(
      'fetch',
      answer(400, { error: 'invalid_grant', error_description: 'The code expired.' }),
    )
    await expect(request('POST', '/oauth/token')).rejects.toThrow('The code expired.')
  })

  it('says which status a body without a message had', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response('<html>bad gateway</html>', { status: 502 })),
    )
    await expect(request('GET', '/api/v2/instance')).rejects.toThrow('The server answered 502')
  })

  it('reports an unreachable node as status 0', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))),
    )
    const e = (await request('GET', '/x').catch((x: unknown) => x)) as ApiError
    expect(e.status).toBe(0)
  })
})

describe('page', () => {
  it('returns the items and the next max_id', async () => {
    vi.stubGlobal('fetch', answer(200, [{ id: '120' }, { id: '103' }], { link: mastodonLink }))
    expect(await page('/api/v1/timelines/public')).toEqual({
      items: [{ id: '120' }, { id: '103' }],
      maxId: '103',
    })
  })

  it('ends on an empty page', async () => {
    vi.stubGlobal('fetch', answer(200, []))
    expect(await page('/api/v1/timelines/public', { max_id: '1' })).toEqual({
      items: [],
      maxId: null,
    })
  })
})
