import { createPinia } from 'pinia'
import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router'
import { useSession } from './stores/session'
import './style.css'

const app = createApp(App)
app.use(createPinia())
const session = useSession()
// Both are best effort: the pages show what failed when they need it.
await Promise.allSettled([session.restore(), session.loadInstance()])
app.use(router)
app.mount('#app')
