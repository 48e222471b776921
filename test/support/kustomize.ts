// The part of kustomize the manifests in deploy/k8s use, so a test can render them without a
// kubectl binary: resources (files and directories), strategic-merge patches (maps merge, the
// lists below merge by their key, null deletes), images and namespace. Any other field of a
// kustomization.yaml is refused rather than silently ignored.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };

interface Kustomization {
  resources?: string[];
  patches?: { path: string }[];
  images?: { name: string; newName?: string; newTag?: string }[];
  namespace?: string;
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'patches', 'images', 'namespace']);

/** Strategic-merge keys of the lists these manifests patch (the Kubernetes API's patchMergeKey). */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  ports: 'containerPort',
};

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

export function strategicMerge(base: unknown, patch: unknown, key?: string): unknown {
  if (isPlain(base) && isPlain(patch)) {
    const out: Plain = { ...base };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = k in out ? strategicMerge(out[k], v, k) : v;
    }
    return out;
  }
  const mergeKey = key ? MERGE_KEYS[key] : undefined;
  if (Array.isArray(base) && Array.isArray(patch) && mergeKey) {
    const out = [...base] as Plain[];
    for (const item of patch as Plain[]) {
      const at = out.findIndex((b) => b[mergeKey] === item[mergeKey]);
      if (at >= 0) out[at] = strategicMerge(out[at], item) as Plain;
      else out.push(item);
    }
    return out;
  }
  return patch;
}

function readObjects(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

function podSpecs(object: K8sObject): Plain[] {
  const spec = object.spec as Plain | undefined;
  const template = spec?.template as Plain | undefined;
  return template?.spec ? [template.spec as Plain] : [];
}

function setImage(image: string, rule: { name: string; newName?: string; newTag?: string }): string {
  const at = image.lastIndexOf(':');
  const hasTag = at > image.lastIndexOf('/');
  const name = hasTag ? image.slice(0, at) : image;
  if (name !== rule.name) return image;
  const tag = rule.newTag ?? (hasTag ? image.slice(at + 1) : undefined);
  return `${rule.newName ?? name}${tag ? `:${tag}` : ''}`;
}

/** Renders the kustomization in `dir` (a directory holding kustomization.yaml). */
export function kustomize(dir: string): K8sObject[] {
  const file = join(dir, 'kustomization.yaml');
  const k = readObjects(file)[0] as unknown as Kustomization;
  const unsupported = Object.keys(k).filter((f) => !SUPPORTED.has(f));
  if (unsupported.length) throw new Error(`${file}: ${unsupported.join(', ')} not supported by this renderer`);

  let objects: K8sObject[] = [];
  for (const resource of k.resources ?? []) {
    const path = resolve(dir, resource);
    if (!existsSync(path)) throw new Error(`${file}: resource ${resource} does not exist`);
    objects.push(...(statSync(path).isDirectory() ? kustomize(path) : readObjects(path)));
  }
  for (const { path } of k.patches ?? []) {
    for (const patch of readObjects(resolve(dir, path))) {
      const at = objects.findIndex((o) => o.kind === patch.kind && o.metadata.name === patch.metadata.name);
      if (at < 0) throw new Error(`${join(dir, path)}: no ${patch.kind} ${patch.metadata.name} to patch`);
      objects[at] = strategicMerge(objects[at], patch) as K8sObject;
    }
  }
  for (const rule of k.images ?? []) {
    for (const spec of objects.flatMap(podSpecs)) {
      for (const container of [...((spec.containers as Plain[]) ?? []), ...((spec.initContainers as Plain[]) ?? [])]) {
        container.image = setImage(String(container.image), rule);
      }
    }
  }
  if (k.namespace) objects = objects.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: k.namespace } }));
  const seen = new Set<string>();
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    if (seen.has(id)) throw new Error(`${dirname(file)}: ${id} is defined twice`);
    seen.add(id);
  }
  return objects;
}
