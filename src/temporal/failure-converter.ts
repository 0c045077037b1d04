/**
 * The failure converter of every Temporal client and worker of chatrelay (and of the workflow
 * bundle, where it is loaded by path): error messages and stack traces go into a payload, which
 * the payload codec encrypts, instead of plain text in the history. An error message can name a
 * user's URL (a voice note that could not be fetched). The Temporal UI and CLI show them again
 * when they decode through the codec endpoint. Bundled into workflow code: no Node imports here.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
