// The page's entry: picks the view from the path and keeps the header's status fresh.
import type { FeedStatus } from '../ui-shared/feed-types.js';
import { getJson } from './dom.js';
import { flowsView } from './flows-view.js';
import { policyView, traceView } from './policy-view.js';

const view = document.getElementById('view') as HTMLElement;
const feed = document.getElementById('feed') as HTMLElement;
const sourceName = document.getElementById('source') as HTMLElement;

async function status(): Promise<void> {
  try {
    const s = await getJson<{ title: string; feed: FeedStatus }>('/api/status');
    sourceName.textContent = s.title;
    const sources = s.feed.sources ?? [];
    const up = sources.filter((x) => x.connected).length;
    const broken = s.feed.error !== undefined || up < sources.length;
    feed.className = `feed ${broken ? 'broken' : s.feed.connected ? 'live' : 'idle'}`;
    feed.textContent = s.feed.error
      ? `flows: ${s.feed.error}`
      : s.feed.idle
        ? 'connecting to the agents\u2026'
        : `live \u00b7 ${sources.length ? `${up} of ${sources.length} agents \u00b7 ` : ''}${s.feed.received} flows`;
    // Which agent is not streaming, and why, on hover.
    feed.title = sources
      .filter((x) => !x.connected)
      .map((x) => `${x.node}: ${x.error ?? 'connecting'}`)
      .join('\n');
  } catch (e) {
    feed.className = 'feed broken';
    feed.textContent = `server unreachable: ${(e as Error).message}`;
  }
}

const path = location.pathname;
for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
  const current = (a.dataset['nav'] === 'policy') === (path === '/policy');
  a.classList.toggle('current', current && path !== '/trace');
}
if (path === '/policy') void policyView(view);
else if (path === '/trace') void traceView(view);
else flowsView(view);
void status();
setInterval(() => void status(), 2000);
