// Objects as the API server returns them, for bench/kube-source.js: pods with
// everything a real pod carries (managedFields, annotations, conditions,
// container statuses; ~3 KB of JSON), in ReplicaSets of 10 replicas, and nodes.

/** Pod i: the ReplicaSets have 10 replicas each, which share labels, ports and owner. */
export function podIdentity(i) {
  const rs = Math.floor(i / 10);
  const app = `app${rs % 50}`;
  const hash = ((rs * 2654435761) >>> 0).toString(16).slice(0, 8);
  return { rs, app, hash, namespace: `ns${rs % 200}`, name: `${app}-${hash}-${i.toString(36)}` };
}

export function podObject(i, nodes) {
  const nodeIndex = i % nodes;
  const slot = Math.floor(i / nodes) + 2;
  const ip = `10.${100 + (nodeIndex >> 8)}.${nodeIndex & 255}.${slot}`;
  const { rs, app, hash, namespace, name } = podIdentity(i);
  return {
    metadata: {
      name,
      generateName: `${app}-${hash}-`,
      namespace,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      creationTimestamp: '2026-11-01T00:00:00Z',
      labels: { app, tier: ['web', 'api', 'db'][rs % 3], 'pod-template-hash': hash, version: 'v1' },
      annotations: {
        'kubectl.kubernetes.io/restartedAt': '2026-11-01T00:00:00Z',
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '9090',
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: `${app}-${hash}`,
          uid: 'r',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time: '2026-11-01T00:00:00Z',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': { 'f:generateName': {}, 'f:labels': { '.': {}, 'f:app': {} } },
            'f:spec': { 'f:containers': {} },
          },
        },
        {
          manager: 'kubelet',
          operation: 'Update',
          apiVersion: 'v1',
          time: '2026-11-01T00:00:05Z',
          fieldsType: 'FieldsV1',
          subresource: 'status',
          fieldsV1: {
            'f:status': {
              'f:conditions': {},
              'f:containerStatuses': {},
              'f:podIP': {},
              'f:podIPs': {},
            },
          },
        },
      ],
    },
    spec: {
      nodeName: `node-${nodeIndex}`,
      serviceAccountName: 'default',
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      containers: [
        {
          name: 'main',
          image: `registry.example/${app}:1.2.3`,
          ports: [
            { name: 'http', containerPort: 8080 + (rs % 3), protocol: 'TCP' },
            { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
            { name: 'dns', containerPort: 53, protocol: 'UDP' },
          ],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
          env: [
            { name: 'APP', value: app },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          ],
          volumeMounts: [
            {
              name: 'kube-api-access',
              mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
              readOnly: true,
            },
          ],
          terminationMessagePath: '/dev/termination-log',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      volumes: [
        {
          name: 'kube-api-access',
          projected: {
            defaultMode: 420,
            sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }],
          },
        },
      ],
      tolerations: [
        {
          key: 'node.kubernetes.io/not-ready',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
      ],
    },
    status: {
      phase: 'Running',
      hostIP: `192.168.${nodeIndex >> 8}.${nodeIndex & 255}`,
      podIP: ip,
      podIPs: [{ ip }],
      startTime: '2026-11-01T00:00:01Z',
      qosClass: 'Burstable',
      conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({
        type,
        status: 'True',
        lastProbeTime: null,
        lastTransitionTime: '2026-11-01T00:00:05Z',
      })),
      containerStatuses: [
        {
          name: 'main',
          ready: true,
          restartCount: 0,
          started: true,
          image: `registry.example/${app}:1.2.3`,
          imageID: `registry.example/${app}@sha256:${'ab'.repeat(32)}`,
          containerID: `containerd://${'cd'.repeat(32)}`,
          state: { running: { startedAt: '2026-11-01T00:00:04Z' } },
        },
      ],
    },
  };
}

export function nodeObject(k) {
  return {
    metadata: {
      name: `node-${k}`,
      labels: {
        'kubernetes.io/hostname': `node-${k}`,
        'topology.kubernetes.io/zone': `zone-${k % 3}`,
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
    },
    spec: {
      podCIDR: `10.${100 + (k >> 8)}.${k & 255}.0/24`,
      podCIDRs: [`10.${100 + (k >> 8)}.${k & 255}.0/24`],
    },
    status: {
      addresses: [
        { type: 'InternalIP', address: `192.168.${k >> 8}.${k & 255}` },
        { type: 'Hostname', address: `node-${k}` },
      ],
      capacity: { cpu: '8', memory: '32Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
      nodeInfo: {
        kubeletVersion: 'v1.33.0',
        osImage: 'Debian GNU/Linux 12',
        containerRuntimeVersion: 'containerd://2.0.0',
      },
      images: Array.from({ length: 10 }, (_, j) => ({
        names: [`registry.example/app${j}:1.2.3`],
        sizeBytes: 1e8,
      })),
    },
  };
}
