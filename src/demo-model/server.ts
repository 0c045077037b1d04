/**
 * The demo model: a small, real HTTP server that speaks just enough of the OpenAI API for the
 * official `openai` SDK to talk to it (point the client at `baseURL`). The local stack runs it when
 * no OPENAI_API_KEY is set, so chatrelay can be tried without an account, and the benchmark uses
 * it so that runs are free, offline and deterministic. It echoes the user (protocol.ts lists its
 * answers) and has nothing to script: the tests' fake model (test/helpers/fake-model.ts) is built
 * on the same protocol core. It is not part of the production build (tsconfig.build.json): the
 * image never runs it.
 */
import {
  authorized,
  checkDelay,
  listenModel,
  pause,
  readModelRequest,
  respond,
  sendError,
  type ModelHttpServer,
} from './protocol.js';

export interface DemoModelOptions {
  /** 0 (default) lets the kernel choose. */
  port?: number;
  host?: string;
  /** Delay before every answer, to imitate a slow model. */
  latencyMs?: number;
  /** When set, requests must carry `Authorization: Bearer <apiKey>` or get a 401. */
  apiKey?: string;
}

export type DemoModel = ModelHttpServer;

export async function startDemoModel(options: DemoModelOptions = {}): Promise<DemoModel> {
  const latencyMs = options.latencyMs ?? 0;
  checkDelay(latencyMs, 'latencyMs');
  const { apiKey } = options;
  let seq = 0;
  return listenModel(
    async (req, res, signal) => {
      seq += 1;
      const request = await readModelRequest(req, seq);
      if (request.endpoint !== null) {
        if (apiKey !== undefined && !authorized(request, apiKey)) {
          sendError(res, request.seq, { status: 401 });
          return;
        }
        if (!(await pause(latencyMs, signal))) return;
      }
      respond(res, request, { kind: 'default' });
    },
    options.port ?? 0,
    options.host ?? '127.0.0.1',
  );
}
