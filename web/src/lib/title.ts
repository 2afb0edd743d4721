// The document's title follows the page (screen readers announce it on navigation).

import { watchEffect } from 'vue'
import { useSession } from '../stores/session'

export function useTitle(title: () => string | undefined): void {
  const session = useSession()
  watchEffect(() => {
    const node = session.instance?.title ?? 'peerpx'
    const page = title()
    document.title = page ? `${page} · ${node}` : node
  })
}
