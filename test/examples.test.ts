import { ModelServer, PlatformApp, PlatformStack, PlatformTesting, runPlatformChecks, schedulingCheck, ServingEndpoint } from '../src';
import * as existingClusterGpuServing from '../examples/existing-cluster-gpu-serving';
import * as registryWithObjectLock from '../examples/registry-with-object-lock';
import * as serveReleaseMonitor from '../examples/serve-release-monitor';
import * as spotTraining from '../examples/spot-training';
import { manifestErrors } from './harness/kubernetes';
import { checkWithTerraform, expectTerraformOk, plannedResources, terraformTool } from './harness/terraform';
import { describeWithTool } from './harness/tools';
import { policyStatements, resourcesOf } from './harness/fixtures';

interface Example {
  build(app: PlatformApp): unknown;
  context: ConstructorParameters<typeof PlatformApp>[0]['platform'];
}

const EXAMPLES: Record<string, Example> = {
  'existing-cluster-gpu-serving': existingClusterGpuServing, 'registry-with-object-lock': registryWithObjectLock, 'serve-release-monitor': serveReleaseMonitor,
  'spot-training': spotTraining,
};

function synth(example: Example) {
  const app = PlatformTesting.app({ platform: example.context });
  example.build(app);
  return PlatformTesting.synth(app);
}

describe.each(Object.entries(EXAMPLES))('example %s', (name, example) => {
  const out = synth(example);

  it('synthesizes manifests that pass the Kubernetes schema check', () => {
    expect(manifestErrors(out.manifests)).toEqual([]);
  });

  it('keeps every stack\'s state in S3, encrypted with a KMS key and locked', () => {
    for (const stack of Object.values<any>(out.terraform)) {
      expect(stack.terraform.backend.s3).toMatchObject({ encrypt: true, use_lockfile: true, kms_key_id: expect.stringMatching(/^arn:aws:kms:/) });
    }
  });

  it('matches the reviewed snapshot', () => {
    expect({ terraform: out.terraform, manifests: out.manifests }).toMatchSnapshot(name);
  });
});

describe('example registry-with-object-lock', () => {
  const out = synth(registryWithObjectLock);

  it('grants the second team read access to its model only', () => {
    const policies = Object.values(resourcesOf(out.terraform.registry, 'aws_iam_role_policy')) as any[];
    const read = policies.find((p) => p.name === 'registry-read-fraud-detector');
    expect(read.role).toMatch(/aws_iam_role\.fraud-serving_role/);
    const objects = policyStatements(read.policy).find((s) => s.Sid === 'ReadObjects');
    expect(objects.Resource).toEqual([expect.stringMatching(/\/models\/fraud-detector\/\*$/)]);
  });
});

describeWithTool(terraformTool, 'example registry-with-object-lock checked by terraform', () => {
  it('plans Object Lock in compliance mode for a year', () => {
    const plan = expectTerraformOk(checkWithTerraform(synth(registryWithObjectLock).terraform.registry));
    const lock = plannedResources(plan, 'aws_s3_bucket_object_lock_configuration')[0];
    expect(lock.values.rule[0].default_retention[0]).toMatchObject({ mode: 'COMPLIANCE', days: 365 });
    expect(plannedResources(plan, 'aws_db_instance')[0].values).toMatchObject({ multi_az: true, backup_retention_period: 14 });
  });
});

describe('example spot-training', () => {
  const out = synth(spotTraining);

  it('trains on two spot g5 nodes with four GPUs each', () => {
    const job = out.manifests['training/resnet-finetune.k8s.yaml'].find((d) => d.kind === 'Job');
    expect(job.spec.completions).toBe(2);
    expect(job.spec.template.spec.containers[0].resources.limits['nvidia.com/gpu']).toBe('4');
    const pool = Object.values(resourcesOf(out.terraform.training, 'aws_eks_node_group')).find((g: any) => g.node_group_name === 'g5-spot') as any;
    expect(pool).toMatchObject({ capacity_type: 'SPOT', scaling_config: { min_size: 0 } });
  });
});

describeWithTool(terraformTool, 'example spot-training checked by terraform', () => {
  it('validates and plans offline', () => {
    const plan = expectTerraformOk(checkWithTerraform(synth(spotTraining).terraform.training));
    expect(plannedResources(plan, 'aws_eks_node_group').map((g) => g.values.node_group_name).sort()).toEqual(['g5-spot', 'system']);
  });
});

describe('example serve-release-monitor', () => {
  const out = synth(serveReleaseMonitor);

  it('releases through the NGINX Ingress, whose own Service stays the stable one', () => {
    const rollout = out.manifests['ranking/ranker-release.k8s.yaml'].find((d) => d.kind === 'Rollout');
    expect(rollout.spec.strategy.canary).toMatchObject({ stableService: 'ranker', canaryService: 'ranker-canary', trafficRouting: { nginx: { stableIngress: 'ranker' } } });
  });

  it('watches drift on the query length and the prediction score', () => {
    const rules = out.manifests['ranking/monitoring.k8s.yaml'].filter((d) => d.kind === 'PrometheusRule').flatMap((d) => d.spec.groups[0].rules);
    const features = new Set(rules.filter((r: any) => r.record === 'mlops:drift_live_fraction').map((r: any) => r.labels.feature));
    expect([...features]).toEqual(['query_length', 'prediction']);
  });
});

describeWithTool(terraformTool, 'example serve-release-monitor checked by terraform', () => {
  it('validates and plans offline', () => {
    const plan = expectTerraformOk(checkWithTerraform(synth(serveReleaseMonitor).terraform.ranking));
    expect(plannedResources(plan, 'aws_budgets_budget')[0].values.cost_filter).toEqual([{ name: 'TagKeyValue', values: ['user:mlops.io/model$ranker'] }]);
  });
});

// A cluster the platform did not create (#14): its pools described by EksCluster.fromAttributes, GPU serving
// placed by their labels and taints, GPU rules in the MonitoringStack, the scheduling check reading them.
describe('example existing-cluster-gpu-serving', () => {
  const out = synth(existingClusterGpuServing);
  const pod = out.manifests['vision/defects.k8s.yaml'].find((d) => d.kind === 'Deployment').spec.template.spec;

  it('places the GPU endpoint on the described pool: its labels, its taint, one whole GPU', () => {
    expect(pod.nodeSelector).toEqual({ 'eks.amazonaws.com/nodegroup': 'gpu-inference' });
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.containers[0].resources.limits['nvidia.com/gpu']).toBe('1');
  });

  it('watches the GPUs with the MonitoringStack\'s GPU rules', () => {
    const rules = out.manifests['vision/monitoring.k8s.yaml'].filter((d) => d.kind === 'PrometheusRule').map((d) => d.metadata.name);
    expect(rules).toContain('mlops-gpu');
  });

  it('passes the platform check, whose scheduling rules read the described pools', () => {
    const app = PlatformTesting.app({ platform: existingClusterGpuServing.context });
    existingClusterGpuServing.build(app);
    PlatformTesting.synth(app);
    expect(PlatformTesting.findings(app)).toEqual([]);
    expect(app.synthesized().describedNodePools?.map((p) => p.name).sort()).toEqual(['general', 'gpu-inference']);
  });

  it('has the scheduling check place pods on the described pools: a request no node of the pool fits is a finding', () => {
    const app = PlatformTesting.app({ platform: existingClusterGpuServing.context });
    existingClusterGpuServing.build(app);
    PlatformTesting.synth(app);
    const synthesized = app.synthesized();
    const deployment = synthesized.manifests['vision/defects.k8s.yaml'].find((d) => d.kind === 'Deployment');
    deployment.spec.template.spec.containers[0].resources.requests.cpu = '16'; // a g6.2xlarge has 8 vCPUs
    const findings = runPlatformChecks(synthesized, [schedulingCheck]);
    expect(findings.map((f) => f.problem).join('\n')).toMatch(/gpu-inference/);
  });

  it('refuses a GPU request on a pool without GPUs, and a pool the cluster does not describe', () => {
    const serve = (pool: string, gpus: number) => () => {
      const app = PlatformTesting.app({ platform: existingClusterGpuServing.context });
      const { registry, detector } = existingClusterGpuServing.build(app);
      const cluster = detector.cluster;
      new ServingEndpoint(new PlatformStack(app, 'other'), 'x', { cluster, namespace: 'vision-serving', team: 'vision', model: registry.model('defect-detector').version('5'), server: ModelServer.triton(), resources: { gpus, pool } });
    };
    expect(serve('general', 1)).toThrow(/ServingEndpoint 'other\/x': resources\.gpus \(1\) needs GPUs, but pool 'general' runs m6i\.2xlarge, which have none/);
    expect(serve('p5', 1)).toThrow(/resources\.pool \('p5'\) is not a pool of cluster 'shared-prod'; its described pools are 'gpu-inference', 'general'/);
  });
});

describeWithTool(terraformTool, 'example existing-cluster-gpu-serving checked by terraform', () => {
  it('validates and plans offline', () => {
    const plan = expectTerraformOk(checkWithTerraform(synth(existingClusterGpuServing).terraform.vision));
    expect(plannedResources(plan, 'aws_eks_pod_identity_association').map((a) => a.values.cluster_name)).toContain('shared-prod');
  });
});
