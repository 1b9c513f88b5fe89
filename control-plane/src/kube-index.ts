/**
 * What discovery knows, kept from informer events, and the translation of it. Only Services whose
 * inputs changed are translated again, so a change to one slice of a 10 000-endpoint cluster does not
 * re-translate the cluster. No I/O: informers feed it, KubeDiscovery decides when to read it.
 */
import type { V1EndpointSlice, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import { POD_ANNOTATION } from '@skewless/shared';
import type { InformerEvent } from './kube-informer.ts';
import type { ServicePortEndpoints } from './model.ts';
import { serviceId, sliceServiceId, type TranslateProblem, translateService, ZONE_LABEL } from './translate-slices.ts';

const OUR_ANNOTATIONS: readonly string[] = Object.values(POD_ANNOTATION);

export class KubeIndex {
  private readonly services = new Map<string, V1Service>();
  /** Service id → slice name → slice. */
  private readonly slicesByService = new Map<string, Map<string, V1EndpointSlice>>();
  /** `<namespace>/<slice>` → the Service id it was filed under, to refile it when its label changes. */
  private readonly sliceOwner = new Map<string, string>();
  private readonly nodeZones = new Map<string, string>();
  /** `<namespace>/<pod>` → our annotations only. */
  private readonly podAnnotations = new Map<string, Readonly<Record<string, string>>>();
  /** `<namespace>/<pod>` → `spec.nodeName`, for the zone of a calling client (zoneOfPod). */
  private readonly podNodes = new Map<string, string>();

  private readonly output = new Map<string, { services: ServicePortEndpoints[]; problems: TranslateProblem[] }>();
  private readonly dirty = new Set<string>();
  private readonly dirtyNamespaces = new Set<string>();
  private allDirty = false;

  service(event: InformerEvent, service: V1Service): void {
    const id = serviceId(service);
    if (event === 'delete') this.services.delete(id);
    else this.services.set(id, service);
    this.dirty.add(id);
  }

  slice(event: InformerEvent, slice: V1EndpointSlice): void {
    const key = `${slice.metadata?.namespace ?? ''}/${slice.metadata?.name ?? ''}`;
    const before = this.sliceOwner.get(key);
    if (before !== undefined) {
      this.slicesByService.get(before)?.delete(key);
      if (this.slicesByService.get(before)?.size === 0) this.slicesByService.delete(before);
      this.sliceOwner.delete(key);
      this.dirty.add(before);
    }
    const owner = sliceServiceId(slice);
    if (event === 'delete' || owner === undefined) return;
    const slices = this.slicesByService.get(owner) ?? new Map<string, V1EndpointSlice>();
    slices.set(key, slice);
    this.slicesByService.set(owner, slices);
    this.sliceOwner.set(key, owner);
    this.dirty.add(owner);
  }

  /** Returns whether the Node's zone changed. */
  node(event: InformerEvent, node: V1Node): boolean {
    const name = node.metadata?.name ?? '';
    const zone = event === 'delete' ? undefined : node.metadata?.labels?.[ZONE_LABEL];
    if (this.nodeZones.get(name) === zone) return false;
    if (zone === undefined) this.nodeZones.delete(name);
    else this.nodeZones.set(name, zone);
    // Zones change rarely (a relabel, a node joining): re-translating everything is fine then.
    this.allDirty = true;
    return true;
  }

  /** Returns whether the Pod's node changed (its zone as a client may have). */
  pod(event: InformerEvent, pod: V1Pod): boolean {
    const namespace = pod.metadata?.namespace ?? '';
    const key = `${namespace}/${pod.metadata?.name ?? ''}`;
    const nodeName = event === 'delete' ? undefined : pod.spec?.nodeName || undefined;
    const nodeChanged = this.podNodes.get(key) !== nodeName;
    if (nodeName === undefined) this.podNodes.delete(key);
    else this.podNodes.set(key, nodeName);
    // A Pod's node does not affect translation (slices carry their own nodeName): only annotations do.
    this.podAnnotationsChanged(key, namespace, event === 'delete' ? undefined : ourAnnotations(pod));
    return nodeChanged;
  }

  /** Zone of the Node a Pod is bound to, or undefined while either is unknown (not yet scheduled, not yet listed). */
  zoneOfPod(namespace: string, name: string): string | undefined {
    const node = this.podNodes.get(`${namespace}/${name}`);
    return node === undefined ? undefined : this.nodeZones.get(node);
  }

  private podAnnotationsChanged(
    key: string,
    namespace: string,
    next: Readonly<Record<string, string>> | undefined,
  ): void {
    const before = this.podAnnotations.get(key);
    if (JSON.stringify(before) === JSON.stringify(next)) return;
    if (next === undefined) this.podAnnotations.delete(key);
    else this.podAnnotations.set(key, next);
    // Slices point at Pods of their own namespace.
    this.dirtyNamespaces.add(namespace);
  }

  hasChanges(): boolean {
    return this.allDirty || this.dirty.size > 0 || this.dirtyNamespaces.size > 0;
  }

  /** Re-translates what changed; returns every Service port (sorted) and every current problem. */
  translate(): { services: ServicePortEndpoints[]; problems: TranslateProblem[] } {
    const ids = this.allDirty ? new Set([...this.services.keys(), ...this.output.keys()]) : new Set(this.dirty);
    if (this.dirtyNamespaces.size > 0) {
      for (const id of this.services.keys()) if (this.dirtyNamespaces.has(namespaceOf(id))) ids.add(id);
    }
    const lookups = {
      nodeZones: this.nodeZones,
      podAnnotations: (namespace: string, name: string) => this.podAnnotations.get(`${namespace}/${name}`),
    };
    for (const id of ids) {
      const service = this.services.get(id);
      if (service === undefined) this.output.delete(id);
      else this.output.set(id, translateService(service, [...(this.slicesByService.get(id)?.values() ?? [])], lookups));
    }
    this.dirty.clear();
    this.dirtyNamespaces.clear();
    this.allDirty = false;

    const services: ServicePortEndpoints[] = [];
    const problems: TranslateProblem[] = [];
    for (const result of this.output.values()) {
      services.push(...result.services);
      problems.push(...result.problems);
    }
    services.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { services, problems };
  }
}

function ourAnnotations(pod: V1Pod): Readonly<Record<string, string>> | undefined {
  const all = pod.metadata?.annotations ?? {};
  const ours = Object.fromEntries(
    OUR_ANNOTATIONS.filter((k) => all[k] !== undefined).map((k) => [k, all[k] as string]),
  );
  return Object.keys(ours).length > 0 ? ours : undefined;
}

function namespaceOf(id: string): string {
  return id.slice(0, id.indexOf('/'));
}
