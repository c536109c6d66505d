import { POLICY_TABLE } from '../components/policy/table.js';
import type { Server } from 'node:http';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { formatCidr } from '../core/net/cidr.js';
import type { Cidr } from '../core/net/types.js';
import type { Cluster } from '../core/model/types.js';
import { ChildRecord } from '../host/children.js';
import { IpamStore } from '../ipam-store/store.js';
import { planRoutes, type RoutingMode } from '../core/routing/plan.js';
import { startRouteSync, type RouteSync } from '../routing/backend.js';
import { routingBackend } from '../routing/registry.js';
import { choosePodCidrs } from '../core/routing/pod-cidrs.js';
import { underlayOf, vtepAddress, vtepMac } from '../core/routing/plan.js';
import { formatIp } from '../core/net/ip.js';
import {
  NodeAnnotationPublisher,
  type NodeAnnotations,
} from '../sources/kubernetes/node-annotations.js';
import { startSource, type ClusterSource, type SourceSpec } from './source.js';
import { EndpointStore, ownerKey } from './endpoint-store.js';
import { CniErrorCodes } from '../core/cni/errors.js';
import { EndpointError, EndpointManager, GATEWAY4 } from './endpoints.js';
import { sweepDeparted, type DepartedSweep } from './departed.js';
import { PolicyDataplane } from '../components/policy/dataplane.js';
import { ServiceDataplane, withOfflineServices } from '../components/services/dataplane.js';
import {
  ProxyHealth,
  serveProxyHealth,
  ServiceHealthServers,
} from '../components/services/health-check.js';
import { ServiceProxyMetrics } from '../components/services/metrics.js';
import type { LoadBalancing } from '../core/model/service-types.js';
import { RealNft } from '../nft/runner.js';
import { podKey } from '../core/model/types.js';
import { irToJson } from '../core/policy/ir-json.js';
import type { EndpointRecord, IpamUsage, Owner } from '../api/types.js';

import { CniHandler } from './cni-handler.js';
import { run } from '../host/exec.js';
import { setSysctl } from '../host/netlink.js';
import { listen } from './server.js';
import { NodeAnnotation, publishedObserveUrl } from '../core/model/node-annotations.js';
import type { ClientRule } from '../core/listen/access.js';
import type { AgentUi } from '../ui/agent-ui.js';
import { VERSION } from '../version.js';

/** How long an ADD waits for the source to show its Pod. */
const POD_WAIT_MS = 5000;
import { DEFAULT_FLOWS, Observability, type FlowsConfig } from './observability/observability.js';

export interface AgentOptions {
  readonly nodeName: string;
  /** The pool IPAM gives out; empty: the Node's spec.podCIDRs, from the source. */
  readonly podCidrs: readonly Cidr[];
  readonly stateDir: string;
  readonly socket: string;
  readonly mtu: number;
  /** Where the cluster state comes from; without one the agent only wires pods (no policy). */
  readonly source?: SourceSpec;
  readonly health?: { host: string; port: number };
  /** The read-only observation API over TCP (`--observe`): flows, status, IR, metrics. */
  readonly observe?: { host: string; port: number };
  /** The web UI (`--ui`): this agent's flows and its peers', the policy view. */
  readonly ui?: { host: string; port: number };
  /** Cross-node pod routes from the Node objects; 'none' leaves routing to someone else. */
  readonly routing: RoutingMode | 'none';
  readonly log: (line: string) => void;
  /** Flow observability (default on, see DEFAULT_FLOWS). */
  readonly flows?: FlowsConfig;
  /** Client ranges every TCP listener answers besides loopback and the Nodes (`--allow-clients`). */
  readonly allowClients?: readonly Cidr[];
  /** Host names the web UI answers besides its own (`--ui-host`). */
  readonly uiHosts?: readonly string[];
  /** The Service proxy (`--service-proxy on`, with a source); absent: off, kube-proxy's job. */
  readonly serviceProxy?: ServiceProxyConfig;
}

export interface ServiceProxyConfig {
  /** Addresses of these no Service has are dropped (`--service-cidr`). */
  readonly serviceCidrs: readonly Cidr[];
  /** For Services without the lb-algorithm annotation (`--service-lb-algorithm`). */
  readonly loadBalancing: LoadBalancing;
  /** kube-proxy's /healthz and /livez (`--proxy-healthz`). */
  readonly healthz?: { host: string; port: number };
}

/** The node agent: wires the source, the endpoint manager, IPAM and the API together. */
export class Agent {
  private servers: Server[] = [];
  private ui: AgentUi | undefined;
  private source: ClusterSource | undefined;
  private annotations: NodeAnnotationPublisher | undefined;
  private routes: RouteSync | undefined;
  private departed: DepartedSweep | undefined;
  private ready = false;
  /** Set just before the first policy sync; source changes trigger syncs from then on. */
  private started = false;
  private readyMessage = 'starting';
  cluster: Cluster | undefined;
  /** The pod CIDRs in use: configured, or the Node's once the source shows them. */
  private podCidrs: readonly Cidr[] = [];
  /** Created once the pod CIDRs are known. */
  private ipam: IpamStore | undefined;
  private readonly store: EndpointStore;

  /** This node's endpoints, as its CNI ADDs made them. */
  private readonly records = new Map<string, EndpointRecord>();
  /** Present when the agent has a source: it enforces policy. */
  readonly dataplane: PolicyDataplane | undefined;
  /** Present when the agent has a source and --service-proxy on: it forwards Services. */
  readonly services: ServiceDataplane | undefined;
  private readonly proxyHealth = new ProxyHealth();
  private proxyMetrics: ServiceProxyMetrics | undefined;
  /** The last error making the manifests' Services (said once). */
  private offlineError: string | undefined;
  /** Flows, metrics, status detail. */
  readonly obs: Observability;

  constructor(readonly o: AgentOptions) {
    this.store = new EndpointStore(join(o.stateDir, 'endpoints'));
    this.obs = new Observability(o.flows ?? DEFAULT_FLOWS, {
      node: o.nodeName,
      cluster: () => this.cluster,
      dataplane: () => this.dataplane,
      services: () => this.services?.model,
      records: () => [...this.records.values()],
      ipam: () => this.ipamUsage(),
      log: o.log,
      helpers: new ChildRecord(join(o.stateDir, 'helpers')),
      nftCounters: o.source ? () => nft.counterPackets(POLICY_TABLE) : undefined,
    });
    const nft = new RealNft();
    if (o.source) {
      this.dataplane = new PolicyDataplane(
        nft,
        o.nodeName,
        () => ({ cluster: this.cluster, endpoints: [...this.records.values()] }),
        o.log,
        {
          logDrops: this.obs.logDrops,
          onSync: (r) => this.obs.onSync(r),
          hold: () => this.obs.hold(),
        },
      );
    }
    if (o.source && o.serviceProxy) {
      const metrics = (this.proxyMetrics = new ServiceProxyMetrics(this.obs.metrics.registry));
      // Its own nft process: the two components' tables sync independently.
      this.services = new ServiceDataplane(new RealNft(), o.nodeName, () => this.cluster, o.log, {
        serviceCidrs: o.serviceProxy.serviceCidrs,
        loadBalancing: o.serviceProxy.loadBalancing,
        podCidrs: () => this.podCidrs,
        metrics,
        health: this.proxyHealth,
        healthChecks: new ServiceHealthServers({ health: this.proxyHealth, metrics }),
      });
    }
  }

  /**
   * Before ADD returns: the pod's policy is in the kernel. The pod must be
   * known to the source first (its labels decide its policy); an ADD for a pod
   * the agent cannot see fails and is retried, rather than run unprotected.
   */
  private async endpointReady(r: EndpointRecord): Promise<void> {
    this.records.set(ownerKey(r), r);
    if (!this.dataplane || !r.pod) return;
    const key = `${r.pod.namespace}/${r.pod.name}`;
    const deadline = Date.now() + POD_WAIT_MS;
    while (!this.cluster?.pods.some((p) => podKey(p) === key)) {
      if (Date.now() > deadline) {
        this.records.delete(ownerKey(r));
        throw new EndpointError(
          CniErrorCodes.TRY_AGAIN_LATER,
          `the agent does not know pod ${key} yet`,
          'retry once the Pod object exists in the source',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await this.dataplane.sync();
  }

  private async endpointRemoved(owner: Owner): Promise<void> {
    if (!this.records.delete(ownerKey(owner))) return;
    await this.dataplane?.sync().catch(() => undefined);
  }

  async start(): Promise<void> {
    const { o } = this;
    // Endpoint records and address files name pods and containers: root's alone.
    await mkdir(o.stateDir, { recursive: true, mode: 0o700 });
    await chmod(o.stateDir, 0o700);
    if (o.source) this.source = await this.startSource(o.source);
    this.podCidrs = await this.resolvePodCidrs();
    const ipam = new IpamStore(join(o.stateDir, 'ipam'), [...this.podCidrs]);
    this.ipam = ipam;
    const endpoints = new EndpointManager({
      store: this.store,
      ipam,
      mtu: o.mtu,
      onReady: (r) => this.endpointReady(r),
      onRemoved: (owner) => this.endpointRemoved(owner),
    });
    await this.store.init();
    const ipamRecovered = await ipam.recover();
    const recordsRecovered = await this.store.recover();
    const { released } = await endpoints.reconcile();
    for (const r of await endpoints.list()) this.records.set(ownerKey(r), r);
    o.log(
      `recovered: ${ipamRecovered.removedTemp + ipamRecovered.removedCorrupt + recordsRecovered} leftover files, ` +
        `${released.length} unfinished endpoints released`,
    );
    await this.prepareNode();
    if (o.routing !== 'none') {
      const mode = o.routing;
      this.routes = startRouteSync({
        backend: routingBackend(mode),
        plan: () => (this.cluster ? planRoutes(o.nodeName, this.cluster.nodes, mode) : undefined),
        log: (line) => o.log(`routing: ${line}`),
      });
      this.routes.trigger();
    }
    if (this.source?.kube) {
      this.annotations = new NodeAnnotationPublisher(this.source.kube, o.nodeName, o.log);
      this.publishAnnotations();
    }
    // The first sync is full and atomic: the rules a previous agent left keep
    // enforcing until this one replaces them.
    this.started = true;
    if (this.dataplane) await this.dataplane.sync();
    // A failed first sync is retried on its own; the agent serves pods meanwhile.
    if (this.services) await this.services.sync().catch(() => undefined);
    await this.obs.start();
    this.departed = sweepDeparted(
      () => endpoints.releaseDeparted(),
      (line) => o.log(`endpoints: ${line}`),
    );
    const handler = new CniHandler(endpoints, () => this.ready);
    this.servers = await listen(
      {
        cni: (env, stdin) => handler.handle(env, stdin),
        status: () => {
          const detail = this.obs.status(this.ready);
          const services = this.services?.status();
          // A failing services sync degrades the agent as a failing policy sync does.
          const failing = services?.lastSync?.error !== undefined && detail.health === 'ok';
          return {
            ready: this.ready,
            message: this.readyMessage,
            ...detail,
            ...(failing ? { health: 'degraded' as const } : {}),
            services: services ?? { enabled: false as const },
          };
        },
        raw: this.obs.handlers(),
        rule: () => this.clientRule(),
        metrics: this.obs.metrics.listeners,
        get: {
          endpoints: () => endpoints.list(),
          endpointsPolicy: () => this.obs.endpoints(),
          ir: () => (this.dataplane?.ir ? irToJson(this.dataplane.ir) : null),
          policy: () => ({
            lastSync: this.dataplane?.last,
            networkPolicies:
              this.cluster?.networkPolicies.map((p) => `${p.namespace}/${p.name}`) ?? [],
            clusterNetworkPolicies: this.cluster?.clusterNetworkPolicies.map((p) => p.name) ?? [],
          }),
          ipam: () => this.ipamUsage(),
          source: () => ({
            source: this.source?.status() ?? null,
            nodeAnnotations: this.annotations?.status() ?? null,
          }),
        },
      },
      o.socket,
      o.health,
      o.observe,
    );
    const healthz = o.serviceProxy?.healthz;
    if (this.services && healthz)
      this.servers.push(
        await serveProxyHealth(healthz, this.proxyHealth, {
          ...(this.proxyMetrics ? { metrics: this.proxyMetrics } : {}),
        }),
      );
    if (o.ui) {
      const { startAgentUi } = await import('../ui/agent-ui.js');
      const { uiUrl } = await import('../ui/server.js');
      this.ui = await startAgentUi({
        node: o.nodeName,
        socket: o.socket,
        listen: o.ui,
        cluster: () => this.cluster,
        rule: () => this.clientRule(),
        hosts: o.uiHosts ?? [],
        metrics: this.obs.metrics.listeners,
      });
      o.log(`web UI at ${uiUrl(this.ui.server)}`);
    }
    this.ready = true;
    this.readyMessage = `node ${o.nodeName}, pods from ${this.podCidrs.map(formatCidr).join(', ')}`;
    o.log(`ready: ${this.readyMessage}; CNI socket ${o.socket}`);
  }

  private startSource(spec: SourceSpec): Promise<ClusterSource> {
    return startSource(
      spec,
      (given) => {
        const nodesBefore = this.cluster?.nodes;
        const c = spec.kind === 'manifests' ? this.offline(given) : given;
        this.cluster = c;
        this.clusterChanged?.();
        // Routes depend on the Nodes alone; the sources keep the same array while no Node changes.
        if (c.nodes !== nodesBefore) this.routes?.trigger();
        this.publishAnnotations();
        // Before the first sync in start(), a change needs no sync of its own.
        if (!this.started) return;
        this.services?.sync().catch(() => undefined);
        if (!this.dataplane) return;
        const t0 = performance.now();
        this.dataplane
          .sync()
          .then(() => this.obs.metrics.onEnforced(performance.now() - t0))
          .catch(() => undefined);
      },
      (e) =>
        this.o.log(
          `source ${spec.kind}: ${e instanceof Error ? e.message : String(e)} (the rest of the cluster state stays in use)`,
        ),
    );
  }

  /** A manifests directory's cluster with its Services allocated and EndpointSlices derived. */
  private offline(c: Cluster): Cluster {
    const { cluster, error } = withOfflineServices(c);
    if (error !== this.offlineError && error !== undefined)
      this.o.log(`services: ${error} (the Services stay without addresses until it is fixed)`);
    this.offlineError = error;
    return cluster;
  }

  /** Whom the TCP listeners answer: loopback, the Nodes' addresses, --allow-clients. */
  private clientRule(): ClientRule {
    return { nodes: this.cluster?.nodes ?? [], allow: this.o.allowClients ?? [] };
  }

  /** Called on every new Cluster while start() waits for this node's pod CIDRs. */
  private clusterChanged: (() => void) | undefined;

  /** The configured pod CIDRs, or the Node's: waits (saying why) until the source shows them. */
  private async resolvePodCidrs(): Promise<readonly Cidr[]> {
    const { o } = this;
    let said = '';
    for (;;) {
      const choice = choosePodCidrs(o.nodeName, this.cluster, o.podCidrs);
      if (choice.kind === 'ok') {
        this.clusterChanged = undefined;
        if (choice.warning) o.log(`warning: ${choice.warning}`);
        return choice.cidrs;
      }
      if (!o.source)
        throw new Error(
          `no pod CIDR: give --pod-cidr, or a --source whose Node ${o.nodeName} has spec.podCIDRs`,
        );
      if (choice.reason !== said) o.log(`waiting: ${choice.reason}`);
      said = choice.reason;
      this.readyMessage = `waiting: ${choice.reason}`;
      await new Promise<void>((resolve) => (this.clusterChanged = resolve));
    }
  }

  /** What peers and operators read on this node's Node object. */
  private publishAnnotations(): void {
    if (!this.annotations || this.podCidrs.length === 0) return;
    const { o } = this;
    const node = this.cluster?.nodes.find((n) => n.name === o.nodeName);
    const underlay = node ? underlayOf(node) : undefined;
    const sorted = [...this.podCidrs].sort((a, b) => a.family - b.family);
    const observeUrl = publishedObserveUrl(o.observe, underlay);
    const A = NodeAnnotation;
    const a: NodeAnnotations = {
      [A.routing]: o.routing,
      [A.podCidrs]: sorted.map(formatCidr).join(','),
      [A.agentVersion]: VERSION,
      ...(underlay ? { [A.underlayAddress]: formatIp(underlay) } : {}),
      ...(observeUrl ? { [A.observeUrl]: observeUrl } : {}),
      ...(o.routing === 'vxlan'
        ? {
            [A.vtepMac]: vtepMac(o.nodeName),
            [A.vtepAddresses]: sorted.map((c) => formatIp(vtepAddress(c))).join(','),
          }
        : {}),
    };
    this.annotations.publish(a);
  }

  private async ipamUsage(): Promise<IpamUsage[]> {
    return ((await this.ipam?.usage()) ?? []).map((u) => ({
      cidr: formatCidr(u.cidr),
      allocated: u.allocated,
      capacity: Number(u.capacity),
    }));
  }

  /** Forwarding on, and a route for the link-local gateway so proxy ARP can answer for it. */
  private async prepareNode(): Promise<void> {
    await setSysctl('net.ipv4.ip_forward', '1');
    if (this.o.podCidrs.some((c) => c.family === 6))
      await setSysctl('net.ipv6.conf.all.forwarding', '1');
    try {
      await run('ip', ['route', 'get', GATEWAY4]);
    } catch {
      // No route at all (a node with no default route, as in the lab): proxy
      // ARP only answers for addresses routed out of another interface.
      await run('ip', ['route', 'replace', `${GATEWAY4}/32`, 'dev', 'lo']);
    }
  }

  /** Stops serving. Leaves every interface, address and rule in place (upgrades drop nothing). */
  async stop(): Promise<void> {
    this.ready = false;
    this.source?.close();
    this.annotations?.close();
    await this.departed?.stop();
    await this.routes?.stop();
    await this.services?.close();
    await this.ui?.stop();
    this.ui = undefined;
    await this.obs.stop();
    await Promise.all(this.servers.map((s) => new Promise((resolve) => s.close(resolve))));
    this.servers = [];
  }
}
