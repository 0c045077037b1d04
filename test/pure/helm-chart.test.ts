/**
 * The Helm chart deploy/helm/chatrelay, checked without a cluster: `helm lint` and `helm template`
 * (Helm v4, built pinned by scripts/provision.sh) with each example values file, every rendered
 * manifest decoded strictly into the Kubernetes API's own types (tools/k8s-validate), and the
 * settings the chart promises asserted on the rendered output: non-root, read-only root
 * filesystem, no privilege escalation, probes on /healthz and /readyz, grace periods above the
 * drain limits, secrets only from Secrets, and two worker builds side by side during a rollout.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { projectRoot, tool } from '../../src/stack/tools.js';

const chart = join(projectRoot, 'deploy', 'helm', 'chatrelay');
const examples = {
  'Temporal Cloud': join(chart, 'examples', 'values-temporal-cloud.yaml'),
  'self-hosted with mTLS': join(chart, 'examples', 'values-self-hosted-mtls.yaml'),
};
/** Variables that hold secrets: the chart must take each from a Secret, never a value. */
const secretVariables = [
  'ADMIN_TOKEN',
  'SECRETS_ENCRYPTION_KEY',
  'METRICS_TOKEN',
  'CODEC_TOKEN',
  'OPENAI_API_KEY',
  'MONGODB_URI',
  'PAYLOAD_ENCRYPTION_KEYS',
  'SECRETS_ENCRYPTION_OLD_KEYS',
  'TEMPORAL_API_KEY',
];
/** The least values that render: an existing Secret, Temporal's address, the public URL. */
const minimal = [
  '--set',
  'temporal.address=temporal:7233',
  '--set',
  'config.PUBLIC_BASE_URL=https://chatrelay.example.com',
  '--set',
  'secrets.existingSecret=chatrelay-secrets',
];

function run(command: string, args: string[], input?: string) {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    input,
    // Helm keeps no state of ours: its cache, config and data go to a throwaway home.
    env: {
      PATH: process.env.PATH,
      HOME: helmHome,
      HELM_CACHE_HOME: helmHome,
      HELM_CONFIG_HOME: helmHome,
      HELM_DATA_HOME: helmHome,
    },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const helmHome = mkdtempSync(join(tmpdir(), 'chatrelay-helm-'));
after(() => rmSync(helmHome, { recursive: true, force: true }));

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
};
type EnvVar = {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
};
type Probe = { httpGet: { path: string; port: string } };
type Container = {
  name: string;
  image: string;
  env: EnvVar[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: Probe;
  readinessProbe: Probe;
  resources: { requests?: { cpu?: string; memory?: string } };
  securityContext: Record<string, unknown> & { capabilities?: { drop?: string[] } };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
};
type PodSpec = {
  containers: Container[];
  securityContext: Record<string, unknown>;
  terminationGracePeriodSeconds: number;
  automountServiceAccountToken: boolean;
  volumes: { name: string; secret?: { secretName: string } }[];
};
type Deployment = Manifest & {
  spec: { replicas?: number; selector: { matchLabels: Record<string, string> }; template: { spec: PodSpec } };
};

function template(args: string[]): { code: number | null; manifests: Manifest[]; yaml: string; stderr: string } {
  const result = run(tool('helm'), ['template', 'chatrelay', chart, ...args]);
  if (result.code !== 0) return { code: result.code, manifests: [], yaml: '', stderr: result.stderr };
  const manifests = parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((doc): doc is Manifest => doc !== null);
  return { code: 0, manifests, yaml: result.stdout, stderr: result.stderr };
}

function rendered(args: string[]): Manifest[] {
  const result = template(args);
  assert.equal(result.code, 0, result.stderr);
  return result.manifests;
}

const deployments = (manifests: Manifest[]) => manifests.filter((m): m is Deployment => m.kind === 'Deployment');
const workers = (manifests: Manifest[]) =>
  deployments(manifests).filter((d) => d.metadata.labels?.['app.kubernetes.io/component'] === 'worker');
const api = (manifests: Manifest[]) => {
  const found = deployments(manifests).filter((d) => d.metadata.labels?.['app.kubernetes.io/component'] === 'api');
  assert.equal(found.length, 1);
  return found[0]!;
};
const container = (deployment: Deployment) => deployment.spec.template.spec.containers[0]!;
function env(c: Container, name: string): string | undefined {
  return c.env.find((e) => e.name === name)?.value;
}

describe('the Helm chart, linted and rendered with each example values file', () => {
  for (const [label, file] of Object.entries(examples)) {
    describe(label, () => {
      const result = template(['-f', file]);

      test('helm lint passes', () => {
        const lint = run(tool('helm'), ['lint', '--strict', chart, '-f', file]);
        assert.equal(lint.code, 0, lint.stdout + lint.stderr);
        assert.match(lint.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
        assert.doesNotMatch(lint.stdout, /\[(ERROR|WARNING)\]/);
      });

      test('every rendered manifest decodes strictly into the Kubernetes API’s types', () => {
        assert.equal(result.code, 0, result.stderr);
        const validated = run(tool('k8s-validate'), ['-'], result.yaml);
        assert.equal(validated.code, 0, validated.stderr);
        assert.match(validated.stdout, new RegExp(`k8s-validate: ${result.manifests.length} manifests valid`));
        const kinds = new Set(result.manifests.map((m) => m.kind));
        for (const kind of [
          'Deployment',
          'Service',
          'HorizontalPodAutoscaler',
          'PodDisruptionBudget',
          'ServiceAccount',
          'NetworkPolicy',
        ]) {
          assert.ok(kinds.has(kind), `no ${kind} rendered`);
        }
      });

      test('pods run as non-root, on a read-only root filesystem, without privilege escalation or capabilities', () => {
        for (const deployment of deployments(result.manifests)) {
          const pod = deployment.spec.template.spec;
          assert.equal(pod.securityContext.runAsNonRoot, true, deployment.metadata.name);
          assert.notEqual(pod.securityContext.runAsUser, 0);
          assert.equal(pod.automountServiceAccountToken, false);
          for (const c of pod.containers) {
            assert.equal(c.securityContext.runAsNonRoot, true, `${deployment.metadata.name}/${c.name}`);
            assert.equal(c.securityContext.readOnlyRootFilesystem, true);
            assert.equal(c.securityContext.allowPrivilegeEscalation, false);
            assert.notEqual(c.securityContext.privileged, true);
            assert.deepEqual(c.securityContext.capabilities?.drop, ['ALL']);
            // The only writable path is /tmp, an emptyDir.
            assert.ok(c.volumeMounts.some((m) => m.mountPath === '/tmp'));
            assert.ok(c.resources.requests?.cpu && c.resources.requests.memory, 'resource requests');
          }
        }
      });

      test('probes: liveness on /healthz, readiness on /readyz, on the API’s port and the worker’s metrics port', () => {
        const apiContainer = container(api(result.manifests));
        assert.deepEqual(apiContainer.livenessProbe.httpGet, { path: '/healthz', port: 'http' });
        assert.deepEqual(apiContainer.readinessProbe.httpGet, { path: '/readyz', port: 'http' });
        assert.equal(
          apiContainer.ports.find((p) => p.name === 'http')?.containerPort,
          Number(env(apiContainer, 'PORT')),
        );
        assert.ok(workers(result.manifests).length > 0);
        for (const worker of workers(result.manifests)) {
          const c = container(worker);
          assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'metrics' });
          assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'metrics' });
          assert.equal(c.ports.find((p) => p.name === 'metrics')?.containerPort, Number(env(c, 'METRICS_PORT')));
        }
      });

      test('terminationGracePeriodSeconds is above the drain limits the processes are given', () => {
        const apiDeployment = api(result.manifests);
        const apiContainer = container(apiDeployment);
        // The API: preStop sleep, then API_SHUTDOWN_TIMEOUT_MS, then up to 5 s more before it exits.
        const apiDrain =
          (apiContainer.lifecycle?.preStop?.sleep?.seconds ?? 0) +
          Number(env(apiContainer, 'API_SHUTDOWN_TIMEOUT_MS')) / 1000 +
          5;
        assert.ok(apiDrain >= 15, `API drain ${apiDrain}`);
        assert.ok(apiDeployment.spec.template.spec.terminationGracePeriodSeconds > apiDrain);
        for (const worker of workers(result.manifests)) {
          // The worker: WORKER_SHUTDOWN_GRACE_MS for running activities, then up to 15 s more.
          const drain = Number(env(container(worker), 'WORKER_SHUTDOWN_GRACE_MS')) / 1000 + 15;
          assert.ok(drain >= 45, `worker drain ${drain}`);
          assert.ok(worker.spec.template.spec.terminationGracePeriodSeconds > drain);
        }
      });

      test('secrets come only from Secret references, and the example creates no Secret', () => {
        assert.ok(!result.manifests.some((m) => m.kind === 'Secret'));
        for (const deployment of deployments(result.manifests)) {
          const variables = new Map(container(deployment).env.map((e) => [e.name, e]));
          for (const name of [
            'ADMIN_TOKEN',
            'SECRETS_ENCRYPTION_KEY',
            'METRICS_TOKEN',
            'OPENAI_API_KEY',
            'MONGODB_URI',
            'CODEC_TOKEN',
          ]) {
            assert.equal(
              variables.get(name)?.valueFrom?.secretKeyRef?.name,
              'chatrelay-secrets',
              `${deployment.metadata.name} ${name}`,
            );
          }
          for (const e of variables.values()) {
            const looksSecret = secretVariables.includes(e.name) || /(TOKEN|_KEY|_KEYS|SECRET|PASSWORD)$/.test(e.name);
            if (looksSecret) {
              assert.equal(e.value, undefined, `${e.name} has a literal value`);
              assert.ok(e.valueFrom?.secretKeyRef, `${e.name} is not from a Secret`);
            }
          }
        }
      });
    });
  }

  test('Temporal Cloud: TLS with the API key from the Secret; ServiceMonitors send the metrics token', () => {
    const manifests = rendered(['-f', examples['Temporal Cloud']]);
    for (const deployment of deployments(manifests)) {
      const c = container(deployment);
      assert.equal(env(c, 'TEMPORAL_ADDRESS'), 'chatrelay-prod.a1b2c.tmprl.cloud:7233');
      assert.equal(env(c, 'TEMPORAL_NAMESPACE'), 'chatrelay-prod.a1b2c');
      assert.equal(env(c, 'TEMPORAL_TLS'), 'true');
      assert.deepEqual(c.env.find((e) => e.name === 'TEMPORAL_API_KEY')?.valueFrom?.secretKeyRef, {
        name: 'chatrelay-secrets',
        key: 'TEMPORAL_API_KEY',
      });
      assert.equal(env(c, 'TEMPORAL_TLS_CLIENT_CERT_PATH'), undefined);
    }
    const monitors = manifests.filter((m) => m.kind === 'ServiceMonitor');
    assert.deepEqual(monitors.map((m) => m.metadata.name).sort(), ['chatrelay-api', 'chatrelay-worker']);
    for (const monitor of monitors) {
      const [endpoint] = (monitor.spec as { endpoints: { authorization: unknown }[] }).endpoints;
      assert.deepEqual(endpoint!.authorization, {
        type: 'Bearer',
        credentials: { name: 'chatrelay-secrets', key: 'METRICS_TOKEN' },
      });
    }
    const ingress = manifests.find((m) => m.kind === 'Ingress');
    assert.ok(ingress, 'the Ingress');
  });

  test('self-hosted mTLS: the client certificate, key and CA are files of a mounted Secret', () => {
    for (const deployment of deployments(rendered(['-f', examples['self-hosted with mTLS']]))) {
      const pod = deployment.spec.template.spec;
      const c = container(deployment);
      const mount = c.volumeMounts.find((m) => m.name === 'temporal-tls');
      assert.equal(mount?.readOnly, true);
      assert.equal(pod.volumes.find((v) => v.name === 'temporal-tls')?.secret?.secretName, 'chatrelay-temporal-client');
      assert.equal(env(c, 'TEMPORAL_TLS'), 'true');
      assert.equal(env(c, 'TEMPORAL_TLS_CLIENT_CERT_PATH'), `${mount.mountPath}/tls.crt`);
      assert.equal(env(c, 'TEMPORAL_TLS_CLIENT_KEY_PATH'), `${mount.mountPath}/tls.key`);
      assert.equal(env(c, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH'), `${mount.mountPath}/ca.crt`);
      assert.equal(env(c, 'TEMPORAL_TLS_SERVER_NAME'), 'temporal-frontend.temporal.svc');
      assert.equal(
        c.env.find((e) => e.name === 'TEMPORAL_API_KEY'),
        undefined,
      );
    }
  });
});

describe('Worker Versioning in the chart', () => {
  test('the build id is the image tag; with a previous version, both builds run side by side and only the current one is made current and autoscaled', () => {
    const manifests = rendered(['-f', examples['self-hosted with mTLS']]);
    const builds = workers(manifests).map((worker) => {
      const c = container(worker);
      return {
        build: env(c, 'BUILD_ID'),
        image: c.image,
        setCurrent: env(c, 'WORKER_SET_CURRENT'),
        replicas: worker.spec.replicas,
        version: worker.metadata.labels?.['app.kubernetes.io/version'],
      };
    });
    assert.deepEqual(builds, [
      {
        build: '3f9c2d1',
        image: 'registry.internal.example.com/chatrelay:3f9c2d1',
        setCurrent: 'true',
        replicas: undefined,
        version: '3f9c2d1',
      },
      {
        build: '8a71e04',
        image: 'registry.internal.example.com/chatrelay:8a71e04',
        setCurrent: 'false',
        replicas: 1,
        version: '8a71e04',
      },
    ]);
    const workerNames = workers(manifests).map((w) => w.metadata.name);
    const hpas = manifests.filter((m) => m.kind === 'HorizontalPodAutoscaler' && m.metadata.name.includes('-worker-'));
    assert.deepEqual(
      hpas.map((h) => (h.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name),
      [workerNames[0]],
    );
    const pdbs = manifests.filter((m) => m.kind === 'PodDisruptionBudget' && m.metadata.name.includes('-worker-'));
    assert.deepEqual(pdbs.map((p) => p.metadata.name).sort(), [...workerNames].sort());
    // Each build's PDB and Deployment select only that build's pods.
    const selectors = workers(manifests).map((w) => JSON.stringify(w.spec.selector.matchLabels));
    assert.equal(new Set(selectors).size, 2);
  });

  test('a build moved into previousVersions keeps its Deployment’s name and selector, so the upgrade keeps its pods', () => {
    const before = workers(rendered([...minimal, '--set', 'image.tag=v1.4.0']));
    const during = workers(
      rendered([...minimal, '--set', 'image.tag=v1.5.0', '--set', 'worker.previousVersions[0].tag=v1.4.0']),
    );
    const after = workers(rendered([...minimal, '--set', 'image.tag=v1.5.0']));
    assert.equal(before.length, 1);
    assert.equal(during.length, 2);
    assert.equal(after.length, 1);
    const old = during.find((w) => env(container(w), 'BUILD_ID') === 'v1.4.0')!;
    assert.equal(old.metadata.name, before[0]!.metadata.name);
    assert.deepEqual(old.spec.selector, before[0]!.spec.selector);
    assert.equal(container(old).image, container(before[0]!).image);
    const current = during.find((w) => env(container(w), 'BUILD_ID') === 'v1.5.0')!;
    assert.equal(current.metadata.name, after[0]!.metadata.name);
    assert.match(current.metadata.name, /^chatrelay-worker-v1-5-0-[0-9a-f]{8}$/);
  });

  test('any image tag is a build id, even one that is no valid label value or name: the chart still renders valid manifests', () => {
    const long = `v${'9'.repeat(126)}_`; // 128 characters, the longest tag; ends with "_"
    const args = [...minimal, '--set', 'image.tag=_build.', '--set', `worker.previousVersions[0].tag=${long}`];
    const result = template(args);
    assert.equal(result.code, 0, result.stderr);
    const validated = run(tool('k8s-validate'), ['-'], result.yaml);
    assert.equal(validated.code, 0, validated.stderr);
    assert.deepEqual(
      workers(result.manifests).map((w) => env(container(w), 'BUILD_ID')),
      ['_build.', long],
    );
  });

  test('with setCurrent off no worker makes its version current', () => {
    for (const worker of workers(rendered([...minimal, '--set', 'worker.setCurrent=false']))) {
      assert.equal(env(container(worker), 'WORKER_SET_CURRENT'), 'false');
    }
  });
});

describe('what the chart refuses', () => {
  const refused = (args: string[], message: RegExp) => {
    const result = template(args);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, message);
  };

  test('no Secret named and no secret values', () => {
    refused(
      ['--set', 'temporal.address=t:7233', '--set', 'config.PUBLIC_BASE_URL=https://x.example'],
      /secrets\.values\.ADMIN_TOKEN is required/,
    );
  });

  test('a secret given as a plain setting', () => {
    refused([...minimal, '--set', 'config.ADMIN_TOKEN=abc'], /config\.ADMIN_TOKEN is a secret/);
  });

  test('grace periods at or below the drain limits', () => {
    refused(
      [...minimal, '--set', 'worker.terminationGracePeriodSeconds=45'],
      /worker\.terminationGracePeriodSeconds \(45\) must exceed shutdownGraceMs \+ 15 s \(45 s\)/,
    );
    refused(
      [...minimal, '--set', 'api.shutdownTimeoutMs=30000'],
      /api\.terminationGracePeriodSeconds \(30\) must exceed .* \(40 s\)/,
    );
  });

  test('a previous version that is the current one', () => {
    refused(
      [...minimal, '--set', 'image.tag=v1', '--set', 'worker.previousVersions[0].tag=v1'],
      /build "v1" is listed twice, or is image\.tag/,
    );
  });

  test('no Temporal address or public URL', () => {
    refused(
      ['--set', 'secrets.existingSecret=s', '--set', 'config.PUBLIC_BASE_URL=https://x.example'],
      /temporal\.address is required/,
    );
    refused(
      ['--set', 'secrets.existingSecret=s', '--set', 'temporal.address=t:7233'],
      /config\.PUBLIC_BASE_URL is required/,
    );
  });
});

describe('the chart’s own Secret', () => {
  test('secrets.values become a Secret the pods reference by key, with a checksum that restarts them on change', () => {
    const values = [
      'ADMIN_TOKEN=a',
      'SECRETS_ENCRYPTION_KEY=k',
      'METRICS_TOKEN=m',
      'OPENAI_API_KEY=o',
      'MONGODB_URI=mongodb://db',
    ];
    const args = [
      '--set',
      'temporal.address=t:7233',
      '--set',
      'config.PUBLIC_BASE_URL=https://x.example',
      ...values.flatMap((v) => ['--set', `secrets.values.${v}`]),
    ];
    const manifests = rendered(args);
    const validated = run(tool('k8s-validate'), ['-'], template(args).yaml);
    assert.equal(validated.code, 0, validated.stderr);
    const secret = manifests.find((m) => m.kind === 'Secret') as
      (Manifest & { stringData: Record<string, string> }) | undefined;
    assert.ok(secret);
    assert.equal(secret.metadata.name, 'chatrelay-secrets');
    assert.deepEqual(Object.keys(secret.stringData).sort(), [
      'ADMIN_TOKEN',
      'METRICS_TOKEN',
      'MONGODB_URI',
      'OPENAI_API_KEY',
      'SECRETS_ENCRYPTION_KEY',
    ]);
    const c = container(api(manifests));
    assert.deepEqual(c.env.find((e) => e.name === 'MONGODB_URI')?.valueFrom?.secretKeyRef, {
      name: 'chatrelay-secrets',
      key: 'MONGODB_URI',
    });
    assert.equal(c.env.find((e) => e.name === 'CODEC_TOKEN')?.valueFrom?.secretKeyRef?.optional, true);
    const checksum = (args2: string[]) =>
      (api(rendered(args2)).spec as unknown as { template: { metadata: { annotations: Record<string, string> } } })
        .template.metadata.annotations['checksum/secret'];
    assert.notEqual(checksum(args), checksum([...args, '--set', 'secrets.values.METRICS_TOKEN=changed']));
  });
});

describe('k8s-validate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chatrelay-k8s-validate-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('an unknown field, a wrong type, a bad port name, a selector that misses its pods and a dangling reference are each named', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      `# Source: bad.yaml
apiVersion: apps/v1
kind: Deployment
metadata: { name: typo }
spec:
  replica: 2
  selector: { matchLabels: { app: a } }
  template:
    metadata: { labels: { app: a } }
    spec:
      containers: [{ name: c, image: i }]
---
apiVersion: v1
kind: Service
metadata: { name: wrong-type }
spec: { ports: [{ port: "eighty" }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: semantic }
spec:
  selector: { matchLabels: { app: a } }
  template:
    metadata: { labels: { app: b } }
    spec:
      containers:
        - name: c
          image: i
          ports: [{ name: a-port-name-too-long, containerPort: 80 }]
          readinessProbe: { httpGet: { path: /readyz, port: http } }
---
apiVersion: policy/v1beta1
kind: PodDisruptionBudget
metadata: { name: removed }
spec: {}
---
apiVersion: v1
kind: Service
metadata: { name: orphan }
spec: { selector: { app: nobody }, ports: [{ port: 80, targetPort: 8080 }] }
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: lost }
spec: { scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: missing }, maxReplicas: 2 }
---
apiVersion: v1
kind: Service
metadata: { name: wrong-port }
spec: { selector: { app: b }, ports: [{ port: 80, targetPort: web }] }
---
apiVersion: v1
kind: Service
metadata: { name: 9lives }
spec: { selector: { app: b }, ports: [{ port: 80 }] }
`,
    );
    const result = run(tool('k8s-validate'), [file]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /document 1: Deployment: .*unknown field "replica"/);
    assert.match(result.stderr, /document 2: Service: .*cannot unmarshal string/);
    assert.match(result.stderr, /document 3: .*spec\.selector does not match the pod template's labels/);
    assert.match(result.stderr, /document 3: .*port name "a-port-name-too-long": must be no more than 15 characters/);
    assert.match(result.stderr, /document 3: .*readinessProbe names port "http", which the container does not declare/);
    assert.match(result.stderr, /document 4: policy\/v1beta1 PodDisruptionBudget is not a kind this validator knows/);
    // References between documents, as the cluster would follow them.
    assert.match(result.stderr, /document 5: Service orphan selects no pods of any workload here/);
    assert.match(
      result.stderr,
      /document 6: HorizontalPodAutoscaler lost scales Deployment missing, which is not here/,
    );
    assert.match(
      result.stderr,
      /document 7: Service wrong-port: targetPort "web" is not a port of Deployment semantic/,
    );
    assert.match(result.stderr, /document 8: Service name "9lives": a DNS-1035 label must consist of/);
  });
});

describe('the chart’s README', () => {
  test('documents every value of values.yaml with its default', () => {
    const values = parseYaml(readFileSync(join(chart, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const readme = readFileSync(join(chart, 'README.md'), 'utf8');
    const leaves: [string, unknown][] = [];
    const walk = (prefix: string, value: unknown) => {
      const isMap =
        value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0;
      // Maps documented as a whole (their keys are free-form).
      if (isMap && !['config', 'podSecurityContext', 'securityContext', 'resources'].some((k) => prefix.endsWith(k))) {
        for (const [key, child] of Object.entries(value)) walk(prefix ? `${prefix}.${key}` : key, child);
      } else leaves.push([prefix, value]);
    };
    walk('', values);
    assert.ok(leaves.length > 50, `${leaves.length} values`);
    for (const [path, value] of leaves) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${path}\` |`));
      assert.ok(row, `README.md has no row for ${path}`);
      if (typeof value !== 'object' || value === null) {
        assert.ok(
          row.includes(`\`${JSON.stringify(value)}\``),
          `README.md's default of ${path} is not ${JSON.stringify(value)}: ${row}`,
        );
      }
    }
  });
});
