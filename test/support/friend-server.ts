/**
 * The flow tests' small cluster, in namespace `ns`: a server on node-2 that a
 * NetworkPolicy opens on port 80 to `friend` only; `friend` and `stranger` on
 * node-1.
 */
export function friendServerManifests(ns: string): string {
  return `
apiVersion: v1
kind: Namespace
metadata: { name: ${ns} }
---
apiVersion: v1
kind: Pod
metadata: { namespace: ${ns}, name: server, labels: { app: server } }
spec: { nodeName: node-2, containers: [{ name: s, image: s, ports: [{ containerPort: 80 }] }] }
---
apiVersion: v1
kind: Pod
metadata: { namespace: ${ns}, name: friend, labels: { app: friend } }
spec: { nodeName: node-1, containers: [{ name: c, image: c }] }
---
apiVersion: v1
kind: Pod
metadata: { namespace: ${ns}, name: stranger, labels: { app: stranger } }
spec: { nodeName: node-1, containers: [{ name: c, image: c }] }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { namespace: ${ns}, name: server-from-friend }
spec:
  podSelector: { matchLabels: { app: server } }
  policyTypes: [Ingress]
  ingress: [{ from: [{ podSelector: { matchLabels: { app: friend } } }], ports: [{ port: 80 }] }]
`;
}
