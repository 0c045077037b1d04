import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { onUnauthorized, session } from './api.js';
import { AgentsPage } from './pages/agents.js';
import { ChannelPage } from './pages/channel.js';
import { ChannelsPage, ConnectChannelPage } from './pages/channels.js';
import { ChatPage } from './pages/chat.js';
import { OverviewPage } from './pages/overview.js';
import { SignInPage } from './pages/signin.js';

/** The route is the part after `#`: the page needs no server-side routing and no history API. */
function useHash(): string {
  const [hash, setHash] = useState(location.hash.slice(1) || '/');
  useEffect(() => {
    const changed = () => setHash(location.hash.slice(1) || '/');
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return hash;
}

function route(path: string) {
  const parts = path.split('/').filter(Boolean);
  if (parts[0] === 'agents') return <AgentsPage />;
  if (parts[0] === 'channels') {
    if (parts.length === 1) return <ChannelsPage />;
    if (parts[1] === 'new') return <ConnectChannelPage />;
    const channelId = decodeURIComponent(parts[1] ?? '');
    if (parts[2] === 'chats' && parts[3])
      return <ChatPage channelId={channelId} chatId={decodeURIComponent(parts[3])} />;
    return <ChannelPage channelId={channelId} tab={parts[2] ?? 'messages'} />;
  }
  return <OverviewPage />;
}

const navigation = [
  ['/', 'Overview'],
  ['/channels', 'Channels'],
  ['/agents', 'Agents'],
] as const;

function App() {
  const [signedIn, setSignedIn] = useState(session.token() !== null);
  const path = useHash();
  useEffect(
    () =>
      onUnauthorized(() => {
        session.signOut();
        setSignedIn(false);
      }),
    [],
  );
  // Each page names itself in the tab's title, for screen readers and history alike.
  if (!signedIn) return <SignInPage onSignedIn={() => setSignedIn(true)} />;
  const section = '/' + (path.split('/').filter(Boolean)[0] ?? '');
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">
          chatrelay
        </a>
        <nav aria-label="Main">
          {navigation.map(([href, label]) => (
            <a key={href} href={`#${href}`} aria-current={section === href ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            session.signOut();
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main">{route(path)}</main>
    </>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
