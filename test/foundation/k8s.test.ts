// deploy/k8s rendered as `kubectl kustomize deploy/k8s/overlays/production` would (test/support/
// kustomize.ts), every object checked against the Kubernetes API schemas (kubernetes-models), and
// every container's environment (ConfigMaps resolved, Secrets as placeholders) run through its
// service's own configuration loader in production mode.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { kustomize, strategicMerge, type K8sObject } from '../support/kustomize.ts';
import { repoRoot } from '../../scripts/support/processes.ts';
import { configProblem, serviceOfCommand, type ServiceName } from '../support/service-config.ts';
import { compileHostCheck } from '../../gateway/proxy/allowed-hosts.ts';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; configMapKeyRef?: { name: string; key: string } };
}
interface Port {
  name?: string;
  containerPort: number;
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: Port[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; runAsNonRoot?: boolean };
}
interface PodSpec {
  containers: Container[];
  securityContext?: { runAsNonRoot?: boolean };
  terminationGracePeriodSeconds?: number;
}
type Workload = K8sObject & {
  spec: { replicas?: number; selector?: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
};

const objects = kustomize(join(repoRoot, 'deploy/k8s/overlays/production'));
const ofKind = <T extends K8sObject = K8sObject>(kind: string) => objects.filter((o) => o.kind === kind) as T[];
const workloads = [...ofKind<Workload>('Deployment'), ...ofKind<Workload>('Job')];
const configMaps = new Map(ofKind('ConfigMap').map((c) => [c.metadata.name, (c as K8sObject & { data: Record<string, string> }).data]));

/** What a referenced Secret key holds in the test: a value of the right shape, never a real one. */
function placeholder(key: string): string {
  if (key === 'DATABASE_URL') return 'mysql://idm:placeholder@mariadb:3306/idm';
  if (key === 'LEGACY_DATABASE_URL') return 'mysql://legacy:placeholder@legacy-db:3306/legacy';
  if (key === 'REDIS_URL') return 'redis://redis:6379/0';
  return randomBytes(32).toString('base64url');
}

/** The environment the kubelet would give `container`, and the Secret keys it references. */
function containerEnv(container: Container): { env: Record<string, string>; secretKeys: string[] } {
  const env: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const from of container.envFrom ?? []) {
    assert.ok(!from.secretRef, `${container.name}: a whole Secret as environment gives it keys it does not need`);
    const data = configMaps.get(from.configMapRef!.name);
    assert.ok(data, `${container.name}: ConfigMap ${from.configMapRef!.name} is not rendered`);
    Object.assign(env, data);
  }
  for (const v of container.env ?? []) {
    if (v.value !== undefined) env[v.name] = v.value;
    else if (v.valueFrom?.configMapKeyRef) env[v.name] = configMaps.get(v.valueFrom.configMapKeyRef.name)![v.valueFrom.configMapKeyRef.key]!;
    else if (v.valueFrom?.secretKeyRef) {
      secretKeys.push(v.valueFrom.secretKeyRef.key);
      if (!v.valueFrom.secretKeyRef.optional) env[v.name] = placeholder(v.valueFrom.secretKeyRef.key);
    }
  }
  return { env, secretKeys };
}

const SERVICE_PORTS: Record<ServiceName, { http: string; ops: string }> = {
  gateway: { http: 'GATEWAY_PORT', ops: 'GATEWAY_OPS_PORT' },
  idp: { http: 'IDP_PORT', ops: 'IDP_OPS_PORT' },
  'legacy-adapter': { http: 'LEGACY_ADAPTER_PORT', ops: 'LEGACY_ADAPTER_OPS_PORT' },
};
const DEFAULT_PORTS: Record<string, number> = {
  GATEWAY_PORT: 3000,
  GATEWAY_OPS_PORT: 3100,
  IDP_PORT: 3001,
  IDP_OPS_PORT: 3101,
  LEGACY_ADAPTER_PORT: 3002,
  LEGACY_ADAPTER_OPS_PORT: 3102,
};

test('the renderer: strategic merge by key, null deletes, other lists replace', () => {
  const merged = strategicMerge(
    {
      spec: {
        containers: [
          {
            name: 'a',
            env: [
              { name: 'X', value: '1' },
              { name: 'Y', value: '2' },
            ],
            args: ['old'],
          },
        ],
        drop: 1,
      },
    },
    {
      spec: {
        containers: [
          {
            name: 'a',
            env: [
              { name: 'Y', value: '3' },
              { name: 'Z', value: '4' },
            ],
            args: ['new'],
          },
        ],
        drop: null,
      },
    },
  );
  assert.deepEqual(merged, {
    spec: {
      containers: [
        {
          name: 'a',
          env: [
            { name: 'X', value: '1' },
            { name: 'Y', value: '3' },
            { name: 'Z', value: '4' },
          ],
          args: ['new'],
        },
      ],
    },
  });
});

test('every rendered object is valid against the Kubernetes API schemas', async () => {
  assert.ok(objects.length > 10);
  for (const o of objects) {
    const models = (await import(`kubernetes-models/${o.apiVersion}`)) as Record<string, (new (data: unknown) => { validate(): void }) | undefined>;
    const Model = models[o.kind];
    assert.ok(Model, `no schema for ${o.apiVersion} ${o.kind}`);
    assert.doesNotThrow(() => new Model(o).validate(), `${o.kind} ${o.metadata.name}`);
    assert.equal(o.metadata.namespace, 'identity-migration', `${o.kind} ${o.metadata.name} is in the overlay's namespace`);
  }
  assert.equal(ofKind('Secret').length, 0, 'secrets are created from a secret store, never rendered from the repository');
});

test("every container's environment satisfies its service's configuration in production", () => {
  const seen = new Set<string>();
  for (const w of workloads) {
    for (const container of w.spec.template.spec.containers) {
      const where = `${w.kind} ${w.metadata.name}/${container.name}`;
      assert.equal(container.command, undefined, `${where}: args, not command, or tini is no longer PID 1`);
      const service = serviceOfCommand(container.args ?? []);
      assert.ok(service, `${where}: runs none of the services`);
      seen.add(w.metadata.name);
      const { env, secretKeys } = containerEnv(container);
      assert.equal(env.NODE_ENV, 'production', where);
      // The one value the repository cannot know: it stops the service until the operator sets it.
      if (env.TRUST_PROXY?.startsWith('SET-ME-')) {
        assert.match(
          configProblem(service, env) ?? '',
          /^invalid configuration:\n {2}- TRUST_PROXY: [^\n]*$/,
          `${where}: the placeholder, and only it, stops the start`,
        );
        env.TRUST_PROXY = '10.0.0.0/24';
      }
      assert.equal(configProblem(service, env), undefined, `${where} would not start`);
      assert.ok(secretKeys.length > 0, `${where}: secrets by reference`);
      for (const v of container.env ?? []) {
        if (/SECRET|TOKEN|PASSWORD|_KEYS?$|DATABASE_URL|REDIS_URL/.test(v.name))
          assert.ok(v.valueFrom?.secretKeyRef, `${where}: ${v.name} must come from a Secret`);
      }
      assert.match(container.image, /^registry\.example\.com\/identity-migration:\d+\.\d+\.\d+$/, `${where}: the overlay's pinned image`);
    }
  }
  assert.deepEqual([...seen].sort(), ['gateway', 'idp', 'idp-migrate', 'legacy-adapter']);

  const job = ofKind<Workload>('Job').find((j) => j.metadata.name === 'idp-migrate')!;
  assert.match(job.spec.template.spec.containers[0]!.args!.join(' '), /migrate-cli\.js && node dist\/idp\/cli\/keys\.js ensure/);

  const clients = parse(configMaps.get('idp-clients')!['clients.yaml']!) as {
    clients: { client_id: string; redirect_uris?: string[]; backchannel_logout_uri?: string }[];
  };
  const config = configMaps.get('identity-migration')!;
  const issuer = config.IDP_ISSUER!;
  for (const uri of clients.clients.flatMap((c) => [...(c.redirect_uris ?? []), ...(c.backchannel_logout_uri ? [c.backchannel_logout_uri] : [])]))
    assert.ok(uri.startsWith(`${issuer}/`), `${uri} is on the public origin`);
  // An overlay that replaces the clients file must keep the gateway's back-channel logout, or an idp
  // session ended elsewhere (a password reset, another application's sign-out) leaves PHP sessions alive.
  const gatewayClient = clients.clients.find((c) => c.client_id === (config.GATEWAY_OIDC_CLIENT_ID ?? 'gateway'));
  assert.equal(gatewayClient?.backchannel_logout_uri, `${config.GATEWAY_PUBLIC_URL}/auth/backchannel-logout`);
});

test('GATEWAY_ALLOWED_HOSTS: the public URL and every Ingress host are served, nothing else', () => {
  const config = configMaps.get('identity-migration')!;
  const allowed = (config.GATEWAY_ALLOWED_HOSTS ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  assert.ok(allowed.length > 0, 'production names the hosts it serves');
  const served = compileHostCheck(allowed);
  const [ingress] = ofKind('Ingress') as (K8sObject & { spec: { rules: { host: string }[] } })[];
  for (const host of [new URL(config.GATEWAY_PUBLIC_URL!).host, ...ingress!.spec.rules.map((r) => r.host)]) assert.ok(served(host), `${host} is served`);
  assert.equal(served('attacker.example'), false);
});

test('each Deployment: ports and probes on the ops port, a preStop pause of SHUTDOWN_DELAY_MS, drained in time, bounded, non-root, a PDB and an HPA', () => {
  for (const d of ofKind<Workload>('Deployment')) {
    const pod = d.spec.template.spec;
    const [container] = pod.containers;
    assert.ok(container);
    const service = serviceOfCommand(container.args ?? [])!;
    const { env } = containerEnv(container);
    const port = (name: string) => container.ports?.find((p) => p.name === name)?.containerPort;
    assert.equal(port('http'), Number(env[SERVICE_PORTS[service].http] ?? DEFAULT_PORTS[SERVICE_PORTS[service].http]), `${d.metadata.name}: http port`);
    assert.equal(port('ops'), Number(env[SERVICE_PORTS[service].ops] ?? DEFAULT_PORTS[SERVICE_PORTS[service].ops]), `${d.metadata.name}: ops port`);
    assert.deepEqual(container.readinessProbe?.httpGet, { path: '/readyz', port: 'ops' });
    assert.equal(container.livenessProbe?.httpGet?.port, 'ops');

    const pause = container.lifecycle?.preStop?.exec?.command;
    assert.equal(pause?.[0], 'sleep');
    const pauseMs = Number(pause[1]) * 1000;
    assert.equal(pauseMs, Number(env.SHUTDOWN_DELAY_MS), `${d.metadata.name}: preStop pause matches SHUTDOWN_DELAY_MS`);
    assert.ok(
      pod.terminationGracePeriodSeconds! * 1000 > pauseMs + Number(env.SHUTDOWN_DELAY_MS) + Number(env.SHUTDOWN_GRACE_MS),
      `${d.metadata.name}: the drain finishes before SIGKILL`,
    );

    assert.ok(container.resources?.requests?.cpu && container.resources.requests.memory && container.resources.limits?.memory, `${d.metadata.name}: resources`);
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(container.securityContext?.allowPrivilegeEscalation, false);
    assert.equal(container.securityContext?.readOnlyRootFilesystem, true);

    const labels = d.spec.template.metadata.labels;
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    const pdb = ofKind('PodDisruptionBudget').find((p) => selects((p.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels));
    assert.ok(pdb, `${d.metadata.name}: PodDisruptionBudget`);
    const hpa = ofKind('HorizontalPodAutoscaler').find(
      (h) => (h.spec as { scaleTargetRef: { kind: string; name: string } }).scaleTargetRef.name === d.metadata.name,
    );
    assert.ok(hpa, `${d.metadata.name}: HorizontalPodAutoscaler`);
    const minAvailable = (pdb.spec as { minAvailable: number }).minAvailable;
    assert.ok((hpa.spec as { minReplicas: number }).minReplicas > minAvailable, `${d.metadata.name}: a PDB that still lets a node drain`);
  }
});

test('the Ingress terminates TLS for every host and reaches only the gateway', () => {
  const [ingress] = ofKind('Ingress') as (K8sObject & {
    spec: {
      tls: { hosts: string[]; secretName: string }[];
      rules: { host: string; http: { paths: { backend: { service: { name: string; port: { name: string } } } }[] } }[];
    };
  })[];
  assert.ok(ingress);
  const tlsHosts = ingress.spec.tls.flatMap((t) => t.hosts);
  for (const rule of ingress.spec.rules) {
    assert.ok(tlsHosts.includes(rule.host), `${rule.host} has TLS`);
    for (const path of rule.http.paths) {
      assert.equal(path.backend.service.name, 'gateway');
      const service = ofKind('Service').find((s) => s.metadata.name === 'gateway') as K8sObject & { spec: { ports: { name: string }[] } };
      assert.ok(service.spec.ports.some((p) => p.name === path.backend.service.port.name));
    }
  }
  assert.equal(new URL(configMaps.get('identity-migration')!.IDP_ISSUER!).host, ingress.spec.rules[0]!.host);
});

interface Peer {
  podSelector?: { matchLabels: Record<string, string> };
  namespaceSelector?: unknown;
}
interface Policy {
  spec: { podSelector: { matchLabels: Record<string, string> }; ingress?: { from?: Peer[]; ports?: { port: string | number }[] }[] };
}

/** NetworkPolicy semantics for a pod in the same namespace: isolated once any policy selects it; then only what some rule admits. */
function admits(policies: Policy[], to: Record<string, string>, from: Record<string, string>, port: string): boolean {
  const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
  const selecting = policies.filter((p) => matches(p.spec.podSelector.matchLabels, to));
  if (!selecting.length) return true;
  return selecting.some((p) =>
    (p.spec.ingress ?? []).some(
      (rule) =>
        (!rule.ports || rule.ports.some((r) => r.port === port)) &&
        (!rule.from || rule.from.some((peer) => peer.podSelector && !peer.namespaceSelector && matches(peer.podSelector.matchLabels, from))),
    ),
  );
}

test('NetworkPolicies: only the gateway reaches the idp; only the idp and the gateway reach the adapter', () => {
  const policies = ofKind('NetworkPolicy') as unknown as Policy[];
  const pod = (name: string) => ofKind<Workload>('Deployment').find((d) => d.metadata.name === name)!.spec.template.metadata.labels;
  const pods = {
    gateway: pod('gateway'),
    idp: pod('idp'),
    adapter: pod('legacy-adapter'),
    job: ofKind<Workload>('Job')[0]!.spec.template.metadata.labels,
    other: { app: 'something-else' },
  };
  const reaches = (from: keyof typeof pods, to: keyof typeof pods, port = 'http') => admits(policies, pods[to], pods[from], port);

  assert.ok(reaches('gateway', 'idp'));
  for (const from of ['adapter', 'job', 'other', 'idp'] as const) assert.ok(!reaches(from, 'idp'), `${from} must not reach the idp`);
  assert.ok(reaches('idp', 'adapter') && reaches('gateway', 'adapter'));
  for (const from of ['job', 'other', 'adapter'] as const) assert.ok(!reaches(from, 'adapter'), `${from} must not reach the adapter`);
  for (const to of ['gateway', 'idp', 'adapter'] as const) {
    for (const from of ['gateway', 'idp', 'adapter', 'other'] as const) assert.ok(!reaches(from, to, 'ops'), `${from} must not reach ${to}'s ops port`);
  }
});
