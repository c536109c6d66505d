// Synthetic but realistic manifests: namespaces of apps, pods with named
// ports, NetworkPolicies mixing pod/namespace selectors, ipBlocks and ports,
// and a few ClusterNetworkPolicies. Deterministic for a given size.

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** @returns {string} multi-document YAML (JSON documents, which YAML reads) */
export function generateCluster({ pods = 1000, policies = 500, namespaces = 20, seed = 1 } = {}) {
  const r = rng(seed);
  const pick = (list) => list[Math.floor(r() * list.length)];
  const apps = Array.from({ length: 50 }, (_, i) => `app${i}`);
  const docs = [];
  for (let n = 0; n < namespaces; n++) {
    docs.push({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: `ns${n}`, labels: { team: `team${n % 5}`, env: n % 2 ? 'prod' : 'dev' } },
    });
  }
  for (let i = 0; i < pods; i++) {
    const app = apps[i % apps.length];
    docs.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        namespace: `ns${i % namespaces}`,
        name: `pod${i}`,
        labels: { app, tier: pick(['web', 'api', 'db']) },
      },
      spec: {
        nodeName: `node${i % 3}`,
        containers: [
          {
            name: 'main',
            image: 'example',
            ports: [
              { name: 'http', containerPort: 8080 + (i % 3) },
              { name: 'metrics', containerPort: 9090 },
              { name: 'dns', containerPort: 53, protocol: 'UDP' },
            ],
          },
        ],
      },
    });
  }
  for (let p = 0; p < policies; p++) docs.push(policy(p, r, pick, apps, namespaces));
  return docs.map((d) => JSON.stringify(d)).join('\n---\n');
}

function policy(p, r, pick, apps, namespaces) {
  const ns = `ns${p % namespaces}`;
  if (p % 50 === 49) {
    return {
      apiVersion: 'policy.networking.k8s.io/v1alpha2',
      kind: 'ClusterNetworkPolicy',
      metadata: { name: `cnp${p}` },
      spec: {
        tier: p % 100 === 99 ? 'Baseline' : 'Admin',
        priority: p % 1000,
        subject: { namespaces: { matchLabels: { team: `team${p % 5}` } } },
        ingress: [
          {
            name: 'pass-same-team',
            action: 'Pass',
            from: [{ namespaces: { matchLabels: { team: `team${p % 5}` } } }],
          },
          {
            name: 'deny-db',
            action: 'Deny',
            from: [
              { pods: { namespaceSelector: {}, podSelector: { matchLabels: { tier: 'db' } } } },
            ],
            protocols: [{ tcp: { destinationPort: { range: { start: 8080, end: 8081 } } } }],
          },
        ],
      },
    };
  }
  const kinds = [
    { podSelector: { matchLabels: { app: pick(apps) } } },
    { namespaceSelector: { matchLabels: { env: pick(['prod', 'dev']) } } },
    {
      namespaceSelector: { matchLabels: { team: `team${Math.floor(r() * 5)}` } },
      podSelector: { matchLabels: { tier: pick(['web', 'api']) } },
    },
    { ipBlock: { cidr: '10.244.0.0/16', except: [`10.244.${Math.floor(r() * 4)}.0/24`] } },
  ];
  const ports = [
    [{ port: 'http' }],
    [{ port: 8080, endPort: 8082 }],
    [{ protocol: 'UDP', port: 53 }],
    undefined,
  ];
  const rule = () => {
    const out = { from: [pick(kinds), pick(kinds)] };
    const pp = pick(ports);
    if (pp) out.ports = pp;
    return out;
  };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: ns, name: `np${p}` },
    spec: {
      podSelector: { matchLabels: { app: pick(apps) } },
      policyTypes: p % 3 === 0 ? ['Ingress', 'Egress'] : ['Ingress'],
      ingress: [rule(), rule()],
      ...(p % 3 === 0
        ? {
            egress: [
              { to: [pick(kinds)], ports: [{ protocol: 'UDP', port: 53 }] },
              { to: [pick(kinds)] },
            ],
          }
        : {}),
    },
  };
}
