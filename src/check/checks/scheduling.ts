import { InstanceType } from '../../training/instances';
import { finding, PlatformCheck, PlatformFinding } from '../check';
import { bytesOf, cpuMillis, ManifestObject, PlatformModel, PodTemplate, selects, TerraformObject } from '../model';

/** A resource vector: CPU in millicores, memory in bytes, NVIDIA GPUs. */
interface Resources { cpu: number; memory: number; gpu: number }

interface Taint { key: string; value?: string; effect: string }

/** A group of identical-but-for-type nodes the platform declares: a managed node group or a Karpenter NodePool. */
export interface NodePoolModel {
  readonly name: string;
  readonly by: string;
  readonly labels: Record<string, string>;
  readonly taints: Taint[];
  readonly instanceTypes: string[];
  readonly capacityType?: string;
}

const MiB = 2 ** 20;
const GiB = 2 ** 30;
/** Requests of the DaemonSets EKS managed add-ons run on every node (their manifests' requests). */
const ADDON_DAEMONSETS: Record<string, Resources> = {
  'vpc-cni': { cpu: 25, memory: 0, gpu: 0 }, // aws-node
  'kube-proxy': { cpu: 100, memory: 0, gpu: 0 },
};

/**
 * Kube-reserved CPU as the EKS AMI computes it (awslabs/amazon-eks-ami, nodeadm kubelet config):
 * 6% of the first core, 1% of the second, 0.5% of the third and fourth, 0.25% of every further core.
 */
export function kubeReservedCpuMillis(vcpus: number): number {
  let m = 0;
  for (let core = 1; core <= vcpus; core++) m += core === 1 ? 60 : core === 2 ? 10 : core <= 4 ? 5 : 2.5;
  return m;
}

/** Kube-reserved memory as the EKS AMI computes it: 11 MiB per pod the node admits, plus 255 MiB. */
export function kubeReservedMemoryBytes(maxPods: number): number {
  return (11 * maxPods + 255) * MiB;
}

/**
 * What a node of an instance type offers pods (its allocatable): capacity less kube-reserved (EKS
 * AMI formula) less the kubelet's hard eviction threshold (`memory.available<100Mi`). Undefined for
 * types outside the catalogue.
 */
export function allocatableOf(type: string): Resources | undefined {
  const t = InstanceType.of(type);
  if (t.vcpus === undefined || t.memoryGiB === undefined) return undefined;
  return {
    cpu: t.vcpus * 1000 - kubeReservedCpuMillis(t.vcpus),
    memory: t.memoryGiB * GiB - kubeReservedMemoryBytes(t.maxPods) - 100 * MiB,
    gpu: t.gpus,
  };
}

/** The node pools the platform declares: managed node groups (Terraform) and Karpenter NodePools. */
export function nodePoolsOf(model: PlatformModel): NodePoolModel[] {
  const pools: NodePoolModel[] = [];
  const templates = new Map<string, TerraformObject>(model.resources('aws_launch_template').map((t) => [`\${aws_launch_template.${t.name}.id}`, t]));
  for (const g of model.resources('aws_eks_node_group')) {
    const c = g.config;
    const lt = templates.get(c.launch_template?.id ?? '');
    // EKS picks t3.medium when neither the node group nor its launch template names a type.
    const types: string[] = c.instance_types ?? (lt?.config.instance_type ? [lt.config.instance_type] : ['t3.medium']);
    const arch = String(c.ami_type ?? '').includes('ARM') ? 'arm64' : 'amd64';
    pools.push({
      name: c.node_group_name ?? g.name, by: `aws_eks_node_group ${g.stack}/${g.name}`,
      labels: { ...(c.labels ?? {}), 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': arch, 'eks.amazonaws.com/nodegroup': c.node_group_name ?? g.name, 'eks.amazonaws.com/capacityType': c.capacity_type ?? 'ON_DEMAND' },
      taints: (c.taint ?? []).map((t: any) => ({ key: t.key, value: t.value, effect: ({ NO_SCHEDULE: 'NoSchedule', NO_EXECUTE: 'NoExecute', PREFER_NO_SCHEDULE: 'PreferNoSchedule' } as Record<string, string>)[t.effect] ?? t.effect })),
      instanceTypes: types,
    });
  }
  for (const p of model.kind('NodePool', { group: 'karpenter.sh' })) {
    const t = p.object.spec?.template ?? {};
    const reqs: any[] = t.spec?.requirements ?? [];
    const types = reqs.find((r) => r.key === 'node.kubernetes.io/instance-type' && r.operator === 'In')?.values ?? [];
    const capacity = reqs.find((r) => r.key === 'karpenter.sh/capacity-type' && r.operator === 'In')?.values?.[0];
    pools.push({
      name: p.object.metadata.name, by: `NodePool ${p.object.metadata.name}`,
      labels: { ...(t.metadata?.labels ?? {}), 'kubernetes.io/os': 'linux', 'karpenter.sh/nodepool': p.object.metadata.name, ...(capacity ? { 'karpenter.sh/capacity-type': capacity } : {}) },
      taints: t.spec?.taints ?? [], instanceTypes: types,
    });
  }
  for (const p of model.synthesis.describedNodePools ?? []) {
    pools.push({
      name: p.name, by: `node pool ${p.name} of existing cluster ${p.cluster} (EksCluster.fromAttributes)`,
      labels: { ...p.labels, 'kubernetes.io/os': 'linux' }, taints: p.taints as Taint[], instanceTypes: p.instanceTypes, capacityType: p.capacityType,
    });
  }
  return pools;
}

/** Whether a toleration tolerates a taint (core/v1 `Toleration.ToleratesTaint`). */
function tolerates(tolerations: any[], taint: Taint): boolean {
  return tolerations.some((t) => (!t.effect || t.effect === taint.effect)
    && (t.operator === 'Exists' ? (!t.key || t.key === taint.key) : t.key === taint.key && (t.value ?? '') === (taint.value ?? '')));
}

/** Whether a node's labels satisfy a pod's nodeSelector and required node affinity (NodeAffinity filter). */
function admitsLabels(spec: any, labels: Record<string, string>): boolean {
  if (!Object.entries<string>(spec.nodeSelector ?? {}).every(([k, v]) => labels[k] === v)) return false;
  const terms: any[] | undefined = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!terms?.length) return true;
  return terms.some((term) => (term.matchExpressions ?? []).every((e: any) => {
    if (e.operator === 'Gt' || e.operator === 'Lt') {
      const v = Number(labels[e.key]);
      return e.key in labels && (e.operator === 'Gt' ? v > Number(e.values[0]) : v < Number(e.values[0]));
    }
    return selects({ matchExpressions: [e] }, labels);
  }));
}

/** Whether a pod may land on a node of the pool: labels match and every NoSchedule/NoExecute taint is tolerated. */
function admits(spec: any, pool: NodePoolModel, type: string): boolean {
  const labels = { ...pool.labels, 'node.kubernetes.io/instance-type': type };
  return admitsLabels(spec, labels) && pool.taints.filter((t) => t.effect !== 'PreferNoSchedule').every((t) => tolerates(spec.tolerations ?? [], t));
}

/**
 * A pod's effective requests as the scheduler computes them (`resource.PodRequests`; Kubernetes docs,
 * "Effective Pod requests and limits"): a sidecar (an init container with `restartPolicy: Always`)
 * keeps running, so it counts with the app containers and with every init container after it; the
 * pod needs the larger of the app containers plus all sidecars, and of each init container plus the
 * sidecars started before it. A request left out defaults to its limit (API defaulting), then to
 * the namespace's LimitRange `defaultRequest`/`default`.
 */
export function podRequests(model: PlatformModel, pod: PodTemplate): Resources {
  const range = model.kind('LimitRange', { namespace: pod.namespace }).flatMap((o) => o.object.spec?.limits ?? []).find((l: any) => l.type === 'Container');
  const of = (c: any): Resources => {
    const get = (r: string) => c.resources?.requests?.[r] ?? c.resources?.limits?.[r] ?? range?.defaultRequest?.[r] ?? range?.default?.[r];
    return { cpu: cpuMillis(get('cpu')) ?? 0, memory: bytesOf(get('memory')) ?? 0, gpu: Number(get('nvidia.com/gpu') ?? 0) };
  };
  const add = (a: Resources, b: Resources): Resources => ({ cpu: a.cpu + b.cpu, memory: a.memory + b.memory, gpu: a.gpu + b.gpu });
  const max = (a: Resources, b: Resources): Resources => ({ cpu: Math.max(a.cpu, b.cpu), memory: Math.max(a.memory, b.memory), gpu: Math.max(a.gpu, b.gpu) });
  let sidecars: Resources = { cpu: 0, memory: 0, gpu: 0 };
  let init: Resources = { cpu: 0, memory: 0, gpu: 0 };
  for (const c of pod.spec.initContainers ?? []) {
    if (c.restartPolicy === 'Always') {
      sidecars = add(sidecars, of(c));
      init = max(init, sidecars);
    } else {
      init = max(init, add(of(c), sidecars));
    }
  }
  const running = (pod.spec.containers ?? []).map(of).reduce(add, sidecars);
  return max(init, running);
}

function show(r: Resources): string {
  const gib = Math.round((r.memory / GiB) * 100) / 100;
  return `${Math.round(r.cpu)}m CPU, ${gib}Gi memory${r.gpu ? `, ${r.gpu} GPU` : ''}`;
}

/**
 * `scheduling`: every pod the platform runs fits a node of some pool that admits it. Mirrors the
 * kube-scheduler filter plugins (kubernetes/kubernetes `pkg/scheduler/framework/plugins`):
 * NodeAffinity (nodeSelector and required node affinity against the pool's labels), TaintToleration
 * (NoSchedule/NoExecute taints must be tolerated) and NodeResourcesFit (the pod's requests, containers
 * summed and at least its largest init container, must fit the node's allocatable). Allocatable is
 * estimated from the instance type less kube-reserved as the EKS AMI computes it
 * (awslabs/amazon-eks-ami: 6/1/0.5/0.25% of cores; 11 MiB × maxPods + 255 MiB), the 100 MiB
 * eviction threshold, and the requests of the DaemonSets that run on that node (the platform's own
 * manifests and the EKS add-ons' aws-node and kube-proxy; those of Helm charts are not seen, so the
 * estimate errs towards fitting and a finding is a certain failure). A pod that fits no
 * pool stays Pending, and neither the Cluster Autoscaler nor Karpenter adds a node for it. When the
 * platform declares no node pools (an existing cluster), there is nothing to check.
 */
export const schedulingCheck: PlatformCheck = {
  id: 'scheduling',
  description: 'Every pod fits a node of a pool whose labels it selects and whose taints it tolerates',
  upstream: 'kube-scheduler NodeResourcesFit, TaintToleration and NodeAffinity filter plugins (kubernetes/kubernetes pkg/scheduler/framework/plugins); awslabs/amazon-eks-ami kube-reserved formula',
  check(model: PlatformModel): PlatformFinding[] {
    const pools = nodePoolsOf(model);
    if (!pools.length) return [];
    const pods = model.podTemplates();
    const daemonSets = pods.filter((p) => p.source.object.kind === 'DaemonSet');
    const addons = new Set(model.eksAddons().map((a) => a.addon));
    const out: PlatformFinding[] = [];
    const nodeFree = (pool: NodePoolModel, type: string): Resources | undefined => {
      const a = allocatableOf(type);
      if (!a) return undefined;
      const free = { ...a };
      const taken = [
        ...daemonSets.filter((d) => admits(d.spec, pool, type)).map((d) => podRequests(model, d)),
        ...Object.entries(ADDON_DAEMONSETS).filter(([name]) => addons.has(name)).map(([, r]) => r),
      ];
      for (const r of taken) { free.cpu -= r.cpu; free.memory -= r.memory; free.gpu -= r.gpu; }
      return free;
    };
    const seen = new Set<string>();
    for (const pod of pods) {
      if (pod.source.object.kind === 'DaemonSet') continue;
      const key = `${pod.source.file}|${pod.source.object.kind}|${pod.source.object.metadata?.namespace}|${pod.source.object.metadata?.name}|${pod.template ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const need = podRequests(model, pod);
      const refused: string[] = [];
      const tooSmall: string[] = [];
      let fits = false;
      let unknown = false;
      for (const pool of pools) {
        const types = pool.instanceTypes.filter((t) => admits(pod.spec, pool, t));
        if (!types.length) {
          const taint = pool.taints.find((t) => t.effect !== 'PreferNoSchedule' && !tolerates(pod.spec.tolerations ?? [], t));
          refused.push(`'${pool.name}' (${taint ? `taint ${taint.key}=${taint.value ?? ''}:${taint.effect} not tolerated` : 'labels do not match its node selection'})`);
          continue;
        }
        for (const type of types) {
          const free = nodeFree(pool, type);
          if (!free) { unknown = true; continue; }
          if (need.cpu <= free.cpu && need.memory <= free.memory && need.gpu <= free.gpu) fits = true;
          else tooSmall.push(`'${pool.name}' (${type}: ${show(free)} free after kube-reserved and DaemonSets)`);
        }
      }
      if (fits || unknown) continue;
      const what = pod.template ? ` (template '${pod.template}')` : '';
      out.push(finding('scheduling', pod.source as ManifestObject,
        `its pods${what} request ${show(need)}, and no node can take one: ${[
          tooSmall.length ? `too small: ${tooSmall.join(', ')}` : '',
          refused.length ? `not admitted: ${refused.join(', ')}` : '',
        ].filter(Boolean).join('; ')}. kube-scheduler's NodeResourcesFit/TaintToleration/NodeAffinity filters leave no node, no autoscaler adds one, and the pods stay Pending.`,
        'Add a pool with nodes large enough (GpuTrainingCluster cpuPools, e.g. m6i.2xlarge) and place the workload on it (ServingEndpoint resources.pool), or lower its requests.'));
    }
    return out;
  },
};
