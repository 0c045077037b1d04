import { TypedSearchAttributes } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { Logger } from '../lib/logger.js';
import { messageSearchAttributes } from '../workflows/search-attributes.js';

type OperatorService = proto.temporal.api.operatorservice.v1.OperatorService;
const IndexedValueType = proto.temporal.api.enums.v1.IndexedValueType;

/** The attributes as the namespace must hold them: name and indexed type. */
const required = messageSearchAttributes.map((key) => ({
  name: key.name,
  /** As `temporal operator search-attribute create --type` and `start-dev --search-attribute` spell it. */
  cliType: TypedSearchAttributes.toMetadataType(key.type),
  indexedType: IndexedValueType[`INDEXED_VALUE_TYPE_${key.type}`],
}));

/**
 * The command an operator runs once per namespace and attribute (docs/operations.md). One per
 * attribute: given several --name and one --type, temporal CLI 1.x creates only the first.
 */
export function searchAttributeCreateCommand(namespace: string, name: string): string {
  return `temporal operator search-attribute create --namespace ${namespace} --name ${name} --type Keyword`;
}

/** `temporal server start-dev` arguments that register them on the dev server at start. */
export function devServerSearchAttributeArgs(): string[] {
  return required.flatMap((attribute) => ['--search-attribute', `${attribute.name}=${attribute.cliType}`]);
}

/** Registers them (the time-skipping test server has no start-up flag for it; its OperatorService has). */
export async function registerSearchAttributes(operatorService: OperatorService, namespace: string): Promise<void> {
  await operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(required.map((attribute) => [attribute.name, attribute.indexedType])),
  });
}

/** gRPC codes of a server that will not tell (Temporal Cloud's namespace endpoints, a restrictive authorizer). */
const CANNOT_LIST = new Set([7 /* PERMISSION_DENIED */, 12 /* UNIMPLEMENTED */, 16 /* UNAUTHENTICATED */]);

/**
 * Checks that the namespace has the attributes, with the right type, and throws an error naming
 * the missing ones and the command that creates them. Without them Temporal refuses every
 * message's start (the API answers each 503, its log naming the attribute) and a final status
 * upsert fails its workflow task, so the worker refuses to start: a deployment on a namespace
 * nobody prepared fails at once and says how to fix it. A server that does not let us list
 * them is trusted (logged).
 */
export async function requireSearchAttributes(
  operatorService: OperatorService,
  namespace: string,
  logger: Logger,
): Promise<void> {
  let registered: Record<string, proto.temporal.api.enums.v1.IndexedValueType>;
  try {
    const response = await operatorService.listSearchAttributes({ namespace });
    registered = { ...response.systemAttributes, ...response.customAttributes };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'number' && CANNOT_LIST.has(code)) {
      logger.warn(
        { err: (error as Error).message, namespace },
        'could not list the search attributes; assuming they are registered',
      );
      return;
    }
    throw error;
  }
  const missing = required.filter((attribute) => registered[attribute.name] === undefined);
  const mistyped = required.filter(
    (attribute) => ![undefined, attribute.indexedType].includes(registered[attribute.name]),
  );
  const problems = [
    ...missing.map((attribute) => `${attribute.name} is not registered`),
    ...mistyped.map((attribute) => `${attribute.name} is not of type ${attribute.cliType}`),
  ];
  if (problems.length > 0)
    throw new Error(
      `Temporal namespace ${namespace} lacks chatrelay's search attributes: ${problems.join('; ')}.` +
        (missing.length > 0
          ? ` Create them with: ${missing.map((attribute) => searchAttributeCreateCommand(namespace, attribute.name)).join(' && ')}`
          : ''),
    );
}
