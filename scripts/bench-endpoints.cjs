// A generated platform with N real-time serving endpoints (a registry, a cluster given by its
// attributes, N endpoints), synthesized from the compiled library. Usage: node bench-endpoints.cjs N
const path = require('path');
const lib = require(path.join(__dirname, '..', 'lib', 'src'));

const n = Number(process.argv[2] ?? 1);
const app = new lib.PlatformApp({
  platform: { name: 'bench', environment: lib.Environment.development(), region: 'eu-west-1', accountId: '123456789012', team: 'ml' },
});
const stack = new lib.PlatformStack(app, 'serving');
const cluster = lib.EksCluster.fromAttributes({
  clusterName: 'bench', vpcId: 'vpc-1', vpcCidr: '10.0.0.0/16', privateSubnetIds: ['subnet-1', 'subnet-2'], workloadSecurityGroupId: 'sg-1',
});
const registry = new lib.ModelRegistry(stack, 'registry', { cluster });
for (let i = 0; i < n; i++) {
  new lib.ServingEndpoint(stack, `model-${i}`, {
    cluster, namespace: 'serving', model: registry.model(`model-${i}`).version('1'), server: lib.ModelServer.mlflow(),
  });
}
new lib.KubernetesStack(app, 'kubernetes', { clusterName: 'bench' });
app.synth();
