/**
 * The parts of Kubernetes objects translation reads. Structural subsets of the API types, so client-node's
 * V1Service / V1EndpointSlice fit as they are, while the pure translation does not depend on the client.
 * Every field is optional: translation must survive whatever a cache hands it.
 */
export interface KubeMeta {
  readonly namespace?: string;
  readonly name?: string;
  readonly resourceVersion?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface KubeServicePort {
  readonly name?: string;
  readonly port: number;
  readonly protocol?: string;
  readonly appProtocol?: string;
}

export interface KubeService {
  readonly metadata?: KubeMeta;
  readonly spec?: { readonly type?: string; readonly ports?: readonly KubeServicePort[] };
}

export interface KubeEndpointConditions {
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
}

export interface KubeEndpoint {
  readonly addresses?: readonly string[];
  readonly conditions?: KubeEndpointConditions;
  readonly nodeName?: string;
  readonly zone?: string;
  readonly targetRef?: { readonly kind?: string; readonly name?: string; readonly namespace?: string };
}

export interface KubeEndpointSlice {
  readonly metadata?: KubeMeta;
  readonly addressType?: string;
  readonly ports?: readonly { readonly name?: string; readonly port?: number | null; readonly protocol?: string }[];
  readonly endpoints?: readonly KubeEndpoint[];
}
