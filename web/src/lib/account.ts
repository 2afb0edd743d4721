// Finding the account a `/@user` address names.

import { ref, watch, type Ref } from 'vue'
import { useRoute } from 'vue-router'
import * as api from '../api'
import type { Account } from '../api'

/** The account of the route's `:user`, reloaded when it changes. */
export function useRouteAccount(): { account: Ref<Account | null>; error: Ref<unknown> } {
  const route = useRoute()
  const account = ref<Account | null>(null)
  const error = ref<unknown>(null)
  watch(
    () => route.params.user,
    async (user) => {
      if (typeof user !== 'string') return
      account.value = null
      error.value = null
      try {
        account.value = await api.lookup(user)
      } catch (e) {
        error.value = e
      }
    },
    { immediate: true },
  )
  return { account, error }
}
