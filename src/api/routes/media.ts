import { Router } from 'express';
import type { Stores } from '../../stores/index.js';
import { notFound } from '../errors.js';

export type MediaStores = {
  blobs: Pick<Stores['blobs'], 'get'>;
  messages: Pick<Stores['messages'], 'get'>;
  channels: Pick<Stores['channels'], 'get'>;
};

/**
 * Serves stored speech at unguessable URLs; the id is the only key, so it is long and random.
 * Only while the channel the audio was made for exists: deleting a channel stops its audio too
 * (blob → its message → the message's channel).
 */
export function mediaRouter(stores: MediaStores): Router {
  const router = Router();
  router.get('/media/:id', async (req, res) => {
    const id = req.params.id;
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(id)) throw notFound('Media');
    const blob = await stores.blobs.get(id);
    const message = blob ? await stores.messages.get(blob.messageId) : null;
    const channel = message ? await stores.channels.get(message.channel_id) : undefined;
    if (!blob || !channel) throw notFound('Media');
    res.setHeader('content-type', blob.contentType);
    // The type is the one the speech API gave; a browser must not guess another from the bytes.
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('cache-control', 'private, max-age=86400, immutable');
    res.setHeader('content-length', String(blob.data.length));
    res.end(blob.data);
  });
  return router;
}
