import type { MessageStarter } from '../../src/api/routes/webhook.js';
import { messageWorkflowId } from '../../src/domain/ids.js';
import type { InboundEnvelope } from '../../src/domain/models.js';

/** Records what would be started: the seam between the HTTP API and Temporal, for tests of the API alone. */
export class RecordingStarter implements MessageStarter {
  started: InboundEnvelope[] = [];
  start(envelope: InboundEnvelope) {
    const duplicate = this.started.some((item) => item.messageId === envelope.messageId);
    this.started.push(envelope);
    return Promise.resolve({ workflowId: messageWorkflowId(envelope.messageId), duplicate });
  }
}
