/**
 * A cluster with a Service, for the tests of what is built from Services
 * (flows through them, the UI's Service view): two nodes, a client pod
 * (shop/web on node-1), the endpoints of Service shop/api (api-1 on node-1,
 * api-2 on node-2; http 80 → 8080 with node port 30080, dns 53/UDP → 5353),
 * and a NetworkPolicy letting web and the nodes' network reach them.
 */
export const SHOP_API_YAML = `
apiVersion: v1
kind: Node
metadata: { name: node-1 }
status: { addresses: [{ type: InternalIP, address: 192.168.1.10 }] }
---
apiVersion: v1
kind: Node
metadata: { name: node-2 }
status: { addresses: [{ type: InternalIP, address: 192.168.1.11 }] }
---
apiVersion: v1
kind: Pod
metadata: { namespace: shop, name: web, labels: { app: web } }
spec: { nodeName: node-1, containers: [{ name: c, image: c }] }
status: { podIP: 10.244.1.5 }
---
apiVersion: v1
kind: Pod
metadata: { namespace: shop, name: api-1, labels: { app: api } }
spec: { nodeName: node-1, containers: [{ name: c, image: c }] }
status: { podIP: 10.244.1.7 }
---
apiVersion: v1
kind: Pod
metadata: { namespace: shop, name: api-2, labels: { app: api } }
spec: { nodeName: node-2, containers: [{ name: c, image: c }] }
status: { podIP: 10.244.2.8 }
---
apiVersion: v1
kind: Service
metadata: { namespace: shop, name: api }
spec:
  type: NodePort
  clusterIP: 10.96.0.10
  selector: { app: api }
  ports:
    - { name: http, port: 80, targetPort: 8080, nodePort: 30080 }
    - { name: dns, port: 53, protocol: UDP, targetPort: 5353 }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { namespace: shop, name: api-in }
spec:
  podSelector: { matchLabels: { app: api } }
  policyTypes: [Ingress]
  ingress:
    - from: [{ podSelector: { matchLabels: { app: web } } }]
      ports: [{ port: 8080 }, { port: 5353, protocol: UDP }]
    - from: [{ ipBlock: { cidr: 192.168.1.0/24 } }]
      ports: [{ port: 8080 }]
`;
