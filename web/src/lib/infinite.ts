// A list that grows page by page (Mastodon's max_id paging), for infinite scroll.

import { ref, shallowRef, type Ref } from 'vue'
import type { Page } from '../api'

export type Loader<T> = (maxId: string | null) => Promise<Page<T>>

export interface Infinite<T> {
  items: Ref<T[]>
  loading: Ref<boolean>
  done: Ref<boolean>
  error: Ref<unknown>
  more: () => Promise<void>
  reset: () => Promise<void>
}

export function useInfinite<T>(load: Loader<T>): Infinite<T> {
  const items = shallowRef<T[]>([]) as Ref<T[]>
  const loading = ref(false)
  const done = ref(false)
  const error = ref<unknown>(null)
  let maxId: string | null = null
  let generation = 0

  async function more(): Promise<void> {
    if (loading.value || done.value) return
    loading.value = true
    error.value = null
    const mine = generation
    try {
      const page = await load(maxId)
      if (mine !== generation) return
      items.value = [...items.value, ...page.items]
      maxId = page.maxId
      done.value = page.items.length === 0 || page.maxId === null
    } catch (e) {
      if (mine === generation) error.value = e
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  async function reset(): Promise<void> {
    generation++
    items.value = []
    maxId = null
    done.value = false
    loading.value = false
    await more()
  }

  return { items, loading, done, error, more, reset }
}
