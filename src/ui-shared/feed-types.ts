/**
 * What the UI server's flow feed says, as the page reads it: shared by the
 * server (src/ui) and the page (src/web), which imports nothing of the server.
 */
import type { Flow } from '../core/flows/types.js';

/** A flow as the UI keeps it: numbered in order of arrival. */
export interface Entry {
  readonly id: number;
  readonly flow: Flow;
}

/** How one agent's stream is doing, as the page's header shows it. */
export interface SourceStatus {
  readonly node: string;
  /** The unix socket or URL it is read from. */
  readonly address: string;
  readonly connected: boolean;
  readonly flows: number;
  /** Why it is not connected (it is read again after PEER_RETRY_MS), or why it cannot be followed. */
  readonly error?: string;
}

export interface FeedStatus {
  readonly connected: boolean;
  /** The feed waits for a page: nobody has used it for its idle time. */
  readonly idle?: boolean;
  readonly received: number;
  readonly buffered: number;
  /** The last error of the stream, if it broke; the feed reconnects after RETRY_MS. */
  readonly error?: string;
  /** Each agent the flows come from, where the stream tells. */
  readonly sources?: readonly SourceStatus[];
}

/** A Service frontend as the page lists it; a node port once per node address. */
export interface ServiceFrontendView {
  readonly kind: 'ClusterIP' | 'ExternalIP' | 'LoadBalancer' | 'NodePort';
  readonly ip: string;
  readonly port: number;
  readonly protocol: string;
  readonly portName: string;
  /** The node whose address a node port is on. */
  readonly node?: string;
}

/** An endpoint of a Service port, with its conditions as its EndpointSlice says them. */
export interface ServiceEndpointView {
  readonly ip: string;
  readonly port: number;
  readonly protocol: string;
  readonly portName: string;
  /** `Pod shop/web-1`, when the endpoint names one. */
  readonly target?: string;
  readonly nodeName?: string;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
}

/** `GET /api/service?service=NS/NAME`: the Service as the cluster's objects say it. */
export interface ServiceAnswer {
  readonly service?: {
    readonly namespace: string;
    readonly name: string;
    readonly type: string;
    /** Why the proxy gives it no rules (headless, ExternalName, another proxy's), when so. */
    readonly ignored?: string;
    readonly frontends: readonly ServiceFrontendView[];
    readonly endpoints: readonly ServiceEndpointView[];
  };
  /** Why there is no `service`: the UI does not read the cluster's objects, or it has no such Service. */
  readonly reason?: string;
}
