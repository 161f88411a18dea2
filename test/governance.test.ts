// Who may move the production alias: the registry's gate, checked in the manifests and run for real
// (nginx from Debian's package, the gate with python3, a stub MLflow) on loopback ports.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { ALIAS_GATE_SCRIPT, ModelRegistry, nginxConfig, PlatformTesting } from '../src';
import { manifestErrors } from './harness/kubernetes';
import { describeWithTool, onPath, run, tempDir } from './harness/tools';
import { TEST_CLUSTER, testPlatform } from './harness/fixtures';

describe('ModelRegistry promotion gate', () => {
  const { app, stack } = testPlatform();
  const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER, governance: { promoterNamespaces: ['ci'] } });
  const out = PlatformTesting.synth(app);
  const docs = out.manifests['aws/registry.k8s.yaml'];
  const pod = docs.find((d) => d.kind === 'Deployment').spec.template.spec;

  it('keeps MLflow behind the gate: clients reach the sidecar, never the server port', () => {
    expect(pod.containers.map((c: any) => c.name)).toEqual(['mlflow', 'gateway', 'alias-gate']);
    expect(pod.containers[0].args).toContain('--port=5001');
    const policy = docs.find((d) => d.kind === 'NetworkPolicy').spec.ingress;
    expect(policy.map((r: any) => r.ports.map((p: any) => p.port))).toEqual([[5000], [5003]]);
    expect(policy[1].from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ci' } } }]);
    expect(docs.find((d) => d.kind === 'Service' && d.metadata.name === 'mlflow-promotion').spec.ports[0].port).toBe(5003);
    expect(registry.promotionUri).toBe('http://mlflow-promotion.mlflow.svc.cluster.local:5003');
    expect(pod.containers[2].env).toContainEqual({ name: 'PROTECTED_ALIASES', value: 'champion' });
    expect(manifestErrors(out.manifests)).toEqual([]);
  });

  it('opens the promotion port to nobody by default', () => {
    const p = testPlatform();
    new ModelRegistry(p.stack, 'registry', { cluster: TEST_CLUSTER });
    const policy = PlatformTesting.synth(p.app).manifests['aws/registry.k8s.yaml'].find((d) => d.kind === 'NetworkPolicy');
    expect(policy.spec.ingress).toHaveLength(1);
  });
});

const tools = onPath('nginx') && onPath('python3') ? { available: true } : { available: false, reason: 'nginx or python3 is not on PATH (apt-get install nginx-light)' };
describeWithTool(tools, 'the promotion gate, run with nginx and python3 on loopback', () => {
  const base = 21000 + Math.floor(Math.random() * 20000);
  const [mlflow, gate, api, promotion] = [base, base + 1, base + 2, base + 3];
  const dir = tempDir('mlops-gate-');
  const processes: ChildProcess[] = [];
  const config = nginxConfig(api).split('5001').join(String(mlflow)).split('5002').join(String(gate)).split('5003').join(String(promotion))
    .split('/tmp/').join(`${dir}/`);

  beforeAll(async () => {
    // A stub MLflow that answers every request with what it received.
    fs.writeFileSync(path.join(dir, 'stub.py'), `
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class Stub(BaseHTTPRequestHandler):
    def answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        data = json.dumps({"upstream": "mlflow", "method": self.command, "path": self.path, "body": body.decode()}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
    do_GET = do_POST = do_DELETE = answer
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), Stub).serve_forever()
`);
    fs.writeFileSync(path.join(dir, 'gate.py'), ALIAS_GATE_SCRIPT);
    fs.writeFileSync(path.join(dir, 'nginx.conf'), config.replace('worker_processes 1;', 'worker_processes 1;\ndaemon off;'));
    const env = { ...process.env, UPSTREAM: `http://127.0.0.1:${mlflow}`, PORT: String(gate), HOST: '127.0.0.1', PROTECTED_ALIASES: 'champion' };
    processes.push(spawn('python3', [path.join(dir, 'stub.py'), String(mlflow)], { stdio: 'ignore' }));
    processes.push(spawn('python3', [path.join(dir, 'gate.py')], { env, stdio: 'ignore' }));
    processes.push(spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' }));
    for (let i = 0; i < 100; i++) {
      const ready = await Promise.all([mlflow, gate, api, promotion].map((p) => request(p, 'GET', '/healthz').then(() => true, () => false)));
      if (ready.every(Boolean)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the gate, nginx or the stub did not start');
  });

  afterAll(() => processes.forEach((p) => p.kill()));

  it('passes nginx -t', () => {
    const r = run('nginx', ['-t', '-p', dir, '-c', path.join(dir, 'nginx.conf')]);
    expect(`${r.stdout}${r.stderr}`).toMatch(/syntax is ok/);
  });

  const alias = (port: number, method: string, body?: object, query = '') => request(port, method, `/api/2.0/mlflow/registered-models/alias${query}`, body);

  it('refuses to move champion through the API port', async () => {
    const r = await alias(api, 'POST', { name: 'fraud', alias: 'champion', version: '8' });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toEqual({ error_code: 'PERMISSION_DENIED', message: "alias 'champion' is moved only through the promotion endpoint" });
    expect((await alias(api, 'DELETE', undefined, '?name=fraud&alias=champion')).status).toBe(403);
    expect((await alias(api, 'POST', { name: 'fraud', version: '8' })).status).toBe(403);
  });

  it('relays other alias changes and every other call to MLflow', async () => {
    const staging = await alias(api, 'POST', { name: 'fraud', alias: 'staging', version: '8' });
    expect(staging.status).toBe(200);
    expect(JSON.parse(staging.body)).toMatchObject({ upstream: 'mlflow', method: 'POST', body: JSON.stringify({ name: 'fraud', alias: 'staging', version: '8' }) });
    const get = await request(api, 'GET', '/api/2.0/mlflow/registered-models/get?name=fraud');
    expect(JSON.parse(get.body)).toMatchObject({ upstream: 'mlflow', path: '/api/2.0/mlflow/registered-models/get?name=fraud' });
  });

  it('moves champion through the promotion port', async () => {
    const r = await alias(promotion, 'POST', { name: 'fraud', alias: 'champion', version: '8' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ upstream: 'mlflow', method: 'POST' });
  });
});

function request(port: number, method: string, urlPath: string, body?: object): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body ? JSON.stringify(body) : undefined;
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, timeout: 2000, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {} }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    if (data) req.write(data);
    req.end();
  });
}
