import { useEffect } from 'preact/hooks';

/** Names the page in the tab's title. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · chatrelay`;
  }, [title]);
}
