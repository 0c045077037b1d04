/**
 * The operations settings whose cost the benchmark can show (issue 15): payload encryption and
 * tracing, each on or off. `--payload-encryption on|off` and `--tracing on|off` set them for a
 * run; `--compare-ops` measures every combination back to back, in one run, on the same Temporal
 * and MongoDB servers (the API and worker are restarted with each setting, on a task queue of
 * their own, after a warm-up), so the differences are per message and under the same noise.
 */

export interface OpsSettings {
  payloadEncryption: boolean;
  tracing: boolean;
}

export interface OpsVariant extends OpsSettings {
  name: string;
}

/** Plain first: the others are read against it. */
export const opsVariants: readonly OpsVariant[] = [
  { name: 'plain', payloadEncryption: false, tracing: false },
  { name: 'encryption', payloadEncryption: true, tracing: false },
  { name: 'tracing', payloadEncryption: false, tracing: true },
  { name: 'both', payloadEncryption: true, tracing: true },
];

/** Parses an on|off flag; undefined when not given. */
export function onOff(flag: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'on') return true;
  if (value === 'off') return false;
  throw new Error(`--${flag} must be on or off, got ${JSON.stringify(value)}`);
}

/**
 * The API's and worker's environment for these settings. Tracing exports over OTLP/HTTP to
 * `otlpEndpoint` (the benchmark's own sink on loopback), every span sampled, the SDK's default
 * batching; off, no OTEL_* variable is set, which is how production turns it off.
 */
export function opsEnv(settings: OpsSettings, otlpEndpoint: string | undefined): Record<string, string> {
  const env: Record<string, string> = { PAYLOAD_ENCRYPTION: String(settings.payloadEncryption) };
  if (settings.tracing) {
    if (!otlpEndpoint) throw new Error('tracing on needs an OTLP endpoint');
    Object.assign(env, {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
      OTEL_TRACES_SAMPLER: 'always_on',
      // Only traces: no metrics or logs exporters are started by the SDK.
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    });
  }
  return env;
}
