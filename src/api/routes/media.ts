import { Router } from 'express';
import type { BlobStore } from '../../stores/blobs.js';
import { notFound } from '../errors.js';

/** Serves stored speech at unguessable URLs; the id is the only key, so it is long and random. */
export function mediaRouter(blobs: Pick<BlobStore, 'get'>): Router {
  const router = Router();
  router.get('/media/:id', async (req, res) => {
    const id = req.params.id;
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(id)) throw notFound('Media');
    const blob = await blobs.get(id);
    if (!blob) throw notFound('Media');
    res.setHeader('content-type', blob.contentType);
    res.setHeader('cache-control', 'private, max-age=86400, immutable');
    res.setHeader('content-length', String(blob.data.length));
    res.end(blob.data);
  });
  return router;
}
