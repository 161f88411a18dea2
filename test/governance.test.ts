// Who may move the production alias: the registry's gate, checked in the manifests and run for real
// (nginx from Debian's package, the gate with python3, a stub MLflow) on loopback ports.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { ModelRegistry, nginxConfig, PlatformTesting, REGISTRY_GATE_SCRIPT } from '../src';
import { manifestErrors } from './harness/kubernetes';
import { describeWithTool, onPath, run, tempDir } from './harness/tools';
import { resourcesOf, TEST_CLUSTER, testPlatform } from './harness/fixtures';
import { buildReferencePlatform, REFERENCE_CONTEXT } from '../stacks/platform';

describe('ModelRegistry promotion gate', () => {
  const { app, stack } = testPlatform();
  const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER, governance: { promoterNamespaces: ['ci'] } });
  const out = PlatformTesting.synth(app);
  const docs = out.manifests['aws/registry.k8s.yaml'];
  const pod = docs.find((d) => d.kind === 'Deployment').spec.template.spec;

  it('keeps MLflow behind the gate: clients reach the sidecar, never the server port', () => {
    expect(pod.containers.map((c: any) => c.name)).toEqual(['mlflow', 'gateway', 'registry-gate']);
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

describe('registry clients of the reference platform', () => {
  const app = PlatformTesting.app({ platform: REFERENCE_CONTEXT });
  buildReferencePlatform(app);
  const out = PlatformTesting.synth(app);
  const all = Object.values(out.manifests).flat();
  const users = JSON.parse(all.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'mlflow-gate').data['users.json']);
  const credentialsOf = (env: any[] = []) => env.filter((e) => /^MLFLOW_TRACKING_(USERNAME|PASSWORD)$/.test(e.name)).map((e) => `${e.name}=${e.valueFrom?.secretKeyRef?.name}/${e.valueFrom?.secretKeyRef?.key}`);

  it('gives serving endpoints read-only users limited to their model, training users edit on theirs', () => {
    expect(users).toEqual({
      'batch-scoring.churn-batch': { role: 'read', models: ['churn'] },
      'fraud.fraud-retrain': { role: 'edit', models: ['fraud-detector'] },
      'fraud.fraud-train': { role: 'edit', models: ['fraud-detector'] },
      // the fraud release's promotion Job moves champion through the promotion port as the serving namespace's promoter
      'serving.promoter': { role: 'promote', models: [] },
      'serving.fraud': { role: 'read', models: ['fraud-detector'] },
      // the recommender serves from its own team's namespace, with its own promoter
      'recsys-serving.promoter': { role: 'promote', models: [] },
      'recsys-serving.recsys': { role: 'read', models: ['recommender'] },
    });
  });

  it('hands every container that talks to MLflow its own credentials, from a Secret of its namespace', () => {
    const talking: Array<[string, string, any[]]> = [];
    const visit = (doc: any, node: any): void => {
      if (!node || typeof node !== 'object') return;
      if (Array.isArray(node.env) && node.env.some((e: any) => e.name === 'MLFLOW_TRACKING_URI')) talking.push([doc.metadata.namespace, `${doc.kind}/${doc.metadata.name}/${node.name}`, node.env]);
      Object.values(node).forEach((v) => visit(doc, v));
    };
    all.forEach((d) => visit(d, d));
    expect(talking.length).toBeGreaterThanOrEqual(8);
    for (const [namespace, where, env] of talking) {
      const secret = env.find((e: any) => e.name === 'MLFLOW_TRACKING_PASSWORD')?.valueFrom?.secretKeyRef?.name;
      expect({ where, credentials: credentialsOf(env) }).toEqual({ where, credentials: [`MLFLOW_TRACKING_USERNAME=${secret}/username`, `MLFLOW_TRACKING_PASSWORD=${secret}/password`] });
      expect({ where, namespace, secret }).toEqual({ where, namespace, secret: expect.stringMatching(/^mlflow-registry-/) });
    }
    const written = Object.values(resourcesOf(out.terraform.kubernetes, 'kubernetes_secret_v1')).map((x: any) => x.metadata.name);
    for (const [, , env] of talking) expect(written).toContain(env.find((e: any) => e.name === 'MLFLOW_TRACKING_PASSWORD').valueFrom.secretKeyRef.name);
  });
});

const tools = onPath('nginx') && onPath('python3') ? { available: true } : { available: false, reason: 'nginx or python3 is not on PATH (apt-get install nginx-light)' };
describeWithTool(tools, 'the registry gate, run with nginx and python3 on loopback', () => {
  const base = 21000 + Math.floor(Math.random() * 20000);
  const [mlflow, gate, api, promotion] = [base, base + 1, base + 2, base + 3];
  const dir = tempDir('mlops-gate-');
  const processes: ChildProcess[] = [];
  const gateOutput: string[] = [];
  const config = nginxConfig(api).split('5001').join(String(mlflow)).split('5002').join(String(gate)).split('5003').join(String(promotion))
    .split('/tmp/').join(`${dir}/`).split('/dev/stdout').join(`${dir}/access.log`);
  // One credential per workload, as the registry writes them: the users file says what each may do.
  const users = {
    'team-a.fraud-pipeline': { role: 'edit', models: ['fraud'] },
    'team-b.churn-pipeline': { role: 'edit', models: ['churn'] },
    'serving.fraud': { role: 'read', models: ['fraud'] },
    'ci.promoter': { role: 'promote', models: [] },
  };
  const passwords: Record<string, string> = Object.fromEntries(Object.keys(users).map((u, i) => [u, `secret-${i}-${u.length}`]));
  const auth = (user: keyof typeof users) => `Basic ${Buffer.from(`${user}:${passwords[user]}`).toString('base64')}`;
  const trainingA = auth('team-a.fraud-pipeline');
  const promoter = auth('ci.promoter');

  beforeAll(async () => {
    // A stub MLflow that answers every request with what it received.
    fs.writeFileSync(path.join(dir, 'stub.py'), `
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class Stub(BaseHTTPRequestHandler):
    def answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        data = json.dumps({"upstream": "mlflow", "method": self.command, "path": self.path, "body": body.decode(), "authorization": self.headers.get("Authorization")}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
    do_GET = do_POST = do_DELETE = do_PATCH = answer
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), Stub).serve_forever()
`);
    fs.writeFileSync(path.join(dir, 'gate.py'), REGISTRY_GATE_SCRIPT);
    fs.writeFileSync(path.join(dir, 'users.json'), JSON.stringify(users));
    fs.mkdirSync(path.join(dir, 'credentials'));
    for (const [user, password] of Object.entries(passwords)) fs.writeFileSync(path.join(dir, 'credentials', user), `${password}\n`);
    fs.writeFileSync(path.join(dir, 'nginx.conf'), config.replace('worker_processes 1;', 'worker_processes 1;\ndaemon off;'));
    const env = {
      ...process.env, UPSTREAM: `http://127.0.0.1:${mlflow}`, PORT: String(gate), HOST: '127.0.0.1', PROTECTED_ALIASES: 'champion',
      USERS_FILE: path.join(dir, 'users.json'), CREDENTIALS_DIR: path.join(dir, 'credentials'),
    };
    processes.push(spawn('python3', [path.join(dir, 'stub.py'), String(mlflow)], { stdio: 'ignore' }));
    const gateProcess = spawn('python3', [path.join(dir, 'gate.py')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    // Whole lines only: a pipe may deliver a line in two chunks.
    let partial = '';
    gateProcess.stdout!.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      gateOutput.push(...lines.filter(Boolean));
    });
    processes.push(gateProcess);
    processes.push(spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' }));
    // Up to 30 s: on a loaded machine (two test workers and terraform) python and nginx may start slowly.
    for (let i = 0; i < 300; i++) {
      const ready = await Promise.all([mlflow, gate, api, promotion].map((p) => request(p, 'GET', p === gate ? '/healthz' : '/health').then(() => true, () => false)));
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

  const alias = (port: number, method: string, body?: object, query = '') => request(port, method, `/api/2.0/mlflow/registered-models/alias${query}`, body, trainingA);
  const denied = (r: { status: number; body: string }) => ({ status: r.status, error: r.status === 403 ? JSON.parse(r.body).error_code : r.body });
  const relayed = (r: { status: number; body: string }) => ({ status: r.status, upstream: r.status === 200 ? JSON.parse(r.body).upstream : r.body });

  it('refuses to move champion through the API port', async () => {
    const r = await alias(api, 'POST', { name: 'fraud', alias: 'champion', version: '8' });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toEqual({ error_code: 'PERMISSION_DENIED', message: "alias 'champion' is moved only through the promotion endpoint" });
    expect((await alias(api, 'DELETE', undefined, '?name=fraud&alias=champion')).status).toBe(403);
    expect((await alias(api, 'POST', { name: 'fraud', version: '8' })).status).toBe(403);
    // MLflow reads the body of a DELETE (handlers.py _get_request_message): a harmless query does not hide it
    expect((await alias(api, 'DELETE', { name: 'fraud', alias: 'champion' }, '?name=fraud&alias=staging')).status).toBe(403);
    // a client cannot claim to be on the promotion port: NGINX sets the header the gate reads
    const claimed = await requestWith(api, 'POST', '/api/2.0/mlflow/registered-models/alias', { name: 'fraud', alias: 'champion', version: '8' }, { Authorization: promoter, 'X-Gate-Port': 'promotion' });
    expect(claimed.status).toBe(403);
    // older clients double-encode the JSON body, which MLflow decodes a second time
    expect((await request(api, 'POST', '/api/2.0/mlflow/registered-models/alias', JSON.stringify({ name: 'fraud', alias: 'champion', version: '8' }) as unknown as object, trainingA)).status).toBe(403);
  });

  // The calls that undo what the registry keeps, in every spelling that MLflow (uvicorn decodes %XX,
  // werkzeug merges slashes) or NGINX (also resolves /./) would route to the same handler.
  const undoing: Array<[string, string, object]> = [
    ['DELETE', '/api/2.0/mlflow/model-versions/delete', { name: 'fraud', version: '8' }],
    ['DELETE', '/api/2.0/mlflow/registered-models/delete', { name: 'fraud' }],
    ['POST', '/api/2.0/mlflow/registered-models/rename', { name: 'fraud', new_name: 'fraud-old' }],
    ['POST', '/api/2.0/mlflow/model-versions/set-tag', { name: 'fraud', version: '8', key: 'mlops.lineage.code_commit', value: 'f'.repeat(40) }],
    ['DELETE', '/api/2.0/mlflow/model-versions/delete-tag', { name: 'fraud', version: '8', key: 'mlops.lineage.data_version' }],
  ];
  const spellings = (p: string): string[] => [
    p,
    p.replace('/api/', '/ajax-api/'),
    p.replace('/mlflow/', '//mlflow//'),
    p.replace('model-versions/', 'model-versions%2F').replace('registered-models/', 'registered-models%2f'),
    p.replace('/mlflow/', '/%6dlflow/').replace(/-(\w+)$/, '%2D$1'),
    `${p}/`,
    `${p}//`,
    p.replace('/mlflow/', '/./mlflow/./'),
    p.replace('/mlflow/', '/mlflow/x/../'),
    p.toUpperCase().replace('/API/2.0/', '/api/2.0/'),
    `/${p}`,
  ];

  it.each(undoing)('refuses %s %s on the API port, however it is spelled, for every workload', async (method, p, body) => {
    for (const spelling of spellings(p)) {
      for (const who of [trainingA, promoter]) {
        const r = await request(api, method, spelling, body, who);
        expect({ spelling, ...denied(r) }).toEqual({ spelling, status: 403, error: 'PERMISSION_DENIED' });
        // the gate's own answer: it saw the call for what MLflow would route it to
        expect(JSON.parse(r.body).message).toMatch(/only through the promotion endpoint/);
      }
    }
    // lineage is refused whatever the tag's case; the key may also come in the query
    if (p.endsWith('tag')) {
      expect((await request(api, method, p, { ...body, key: 'MLOPS.Lineage.code_commit' }, trainingA)).status).toBe(403);
      expect((await request(api, method, `${p}?name=fraud&version=8&key=mlops.lineage.trigger`, { name: 'fraud', version: '8', key: 'mlops.metrics.auc' }, trainingA)).status).toBe(403);
    }
  });

  it.each(undoing)('does %s %s through the promotion port, for a promoter', async (method, p, body) => {
    for (const spelling of [p, p.replace('/api/', '/ajax-api/'), p.replace('/mlflow/', '//mlflow/')]) {
      const r = await request(promotion, method, spelling, body, promoter);
      expect({ spelling, ...relayed(r) }).toEqual({ spelling, status: 200, upstream: 'mlflow' });
      // relayed on the path that was decided on, without the caller's credentials
      expect(JSON.parse(r.body)).toMatchObject({ method, path: spelling.replace('//', '/'), authorization: null });
    }
    // a training workload that reached the promotion port (it may not: NetworkPolicy) is still refused
    expect((await request(promotion, method, p, body, trainingA)).status).toBe(403);
  });

  it('writes lineage once, with the version, and lets other tags change', async () => {
    const lineage = { 'mlops.lineage.code_commit': 'a'.repeat(40) };
    const create = await request(api, 'POST', '/api/2.0/mlflow/model-versions/create',
      { name: 'fraud', source: 'runs:/r/model', tags: Object.entries(lineage).map(([key, value]) => ({ key, value })) }, trainingA);
    expect(relayed(create)).toEqual({ status: 200, upstream: 'mlflow' });
    const metric = await request(api, 'POST', '/api/2.0/mlflow/model-versions/set-tag', { name: 'fraud', version: '8', key: 'mlops.metrics.auc', value: '0.91' }, trainingA);
    expect(relayed(metric)).toEqual({ status: 200, upstream: 'mlflow' });
    const read = await request(api, 'GET', '/api/2.0/mlflow/model-versions/get?name=fraud&version=8', undefined, auth('serving.fraud'));
    expect(JSON.parse(read.body)).toMatchObject({ upstream: 'mlflow', path: '/api/2.0/mlflow/model-versions/get?name=fraud&version=8' });
  });

  it('relays other alias changes and every other call to MLflow', async () => {
    const staging = await alias(api, 'POST', { name: 'fraud', alias: 'staging', version: '8' });
    expect(staging.status).toBe(200);
    expect(JSON.parse(staging.body)).toMatchObject({ upstream: 'mlflow', method: 'POST', body: JSON.stringify({ name: 'fraud', alias: 'staging', version: '8' }) });
    const get = await request(api, 'GET', '/api/2.0/mlflow/registered-models/get?name=fraud', undefined, trainingA);
    expect(JSON.parse(get.body)).toMatchObject({ upstream: 'mlflow', path: '/api/2.0/mlflow/registered-models/get?name=fraud' });
    const run = await request(api, 'POST', '/api/2.0/mlflow/runs/create', { experiment_id: '1' }, trainingA);
    expect(JSON.parse(run.body)).toMatchObject({ upstream: 'mlflow', path: '/api/2.0/mlflow/runs/create' });
  });

  it('moves champion through the promotion port', async () => {
    const r = await request(promotion, 'POST', '/api/2.0/mlflow/registered-models/alias', { name: 'fraud', alias: 'champion', version: '8' }, promoter);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ upstream: 'mlflow', method: 'POST' });
  });

  describe('identity: each workload reaches MLflow as itself', () => {
    it('lets probes and Prometheus read /health and /metrics without credentials, and nothing else', async () => {
      expect(relayed(await request(api, 'GET', '/health'))).toEqual({ status: 200, upstream: 'mlflow' });
      expect(relayed(await request(api, 'GET', '/metrics'))).toEqual({ status: 200, upstream: 'mlflow' });
      expect((await request(api, 'POST', '/metrics', {})).status).toBe(403);
      expect((await request(api, 'GET', '/metrics/../api/2.0/mlflow/experiments/search')).status).toBe(401);
    });

    it('refuses callers without credentials, or with wrong ones, on every path', async () => {
      const wrong = `Basic ${Buffer.from('team-a.fraud-pipeline:guess').toString('base64')}`;
      for (const who of [undefined, wrong]) {
        for (const [method, p] of [['GET', '/api/2.0/mlflow/registered-models/get?name=fraud'], ['POST', '/api/2.0/mlflow/runs/create'], ['GET', '/api/2.0/mlflow-artifacts/artifacts/x']]) {
          const r = await request(api, method, p, method === 'POST' ? {} : undefined, who);
          expect({ p, status: r.status, error: JSON.parse(r.body).error_code }).toEqual({ p, status: 401, error: 'UNAUTHENTICATED' });
        }
      }
    });

    it("lets a serving workload read its model, never register a version or change anything", async () => {
      const serving = auth('serving.fraud');
      expect(relayed(await request(api, 'GET', '/api/2.0/mlflow/registered-models/alias?name=fraud&alias=champion', undefined, serving))).toEqual({ status: 200, upstream: 'mlflow' });
      const register = await request(api, 'POST', '/api/2.0/mlflow/model-versions/create', { name: 'fraud', source: 'runs:/r/model' }, serving);
      expect(JSON.parse(register.body)).toEqual({ error_code: 'PERMISSION_DENIED', message: 'serving.fraud may only read the registry' });
      expect(denied(await request(api, 'POST', '/api/2.0/mlflow/registered-models/alias', { name: 'fraud', alias: 'staging', version: '1' }, serving))).toEqual({ status: 403, error: 'PERMISSION_DENIED' });
      expect(denied(await request(api, 'POST', '/api/2.0/mlflow/runs/create', { experiment_id: '1' }, serving))).toEqual({ status: 403, error: 'PERMISSION_DENIED' });
      expect(denied(await request(api, 'PUT', '/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/model/model.pkl', { x: 1 }, serving))).toEqual({ status: 403, error: 'PERMISSION_DENIED' });
      expect(denied(await request(api, 'GET', '/api/2.0/mlflow/registered-models/get?name=churn', undefined, serving))).toEqual({ status: 403, error: 'PERMISSION_DENIED' });
    });

    // The routes that move artifact content with the server's own S3 rights (mlflow/mlflow
    // mlflow/server/__init__.py, fastapi routes and handlers.py: get-artifact, model-versions/get-artifact,
    // upload-artifact, get-trace-artifact, artifacts/list, the mlflow-artifacts proxy): workloads use S3 with
    // their own role instead (ArtifactServing.DIRECT), so none of them may reach another model's artifacts here.
    const artifactCalls: Array<[string, string]> = [
      ['GET', '/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/model/MLmodel'],
      ['PUT', '/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/model/model.pkl'],
      ['DELETE', '/ajax-api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/model/model.pkl'],
      ['GET', '/get-artifact?path=model/MLmodel&run_uuid=r'],
      ['GET', '/model-versions/get-artifact?path=MLmodel&name=churn&version=1'],
      ['POST', '/ajax-api/2.0/mlflow/upload-artifact?run_uuid=r&path=x'],
      ['GET', '/ajax-api/2.0/mlflow/get-trace-artifact?request_id=t'],
      ['GET', '/ajax-api/2.0/mlflow/artifacts/list?run_id=r'],
    ];
    it.each(artifactCalls)('refuses %s %s to every workload, however it is spelled: artifacts move by S3 with the workload\'s own role', async (method, p) => {
      for (const spelling of [p, p.replace(/^\//, '//'), p.replace('artifact', '%61rtifact'), p.replace(/^\/([a-z-]+)\//, '/./$1/'), p.toUpperCase().replace(/\?.*$/, '')]) {
        for (const who of ['serving.fraud', 'team-a.fraud-pipeline', 'ci.promoter'] as const) {
          const r = await request(api, method, spelling, method === 'PUT' || method === 'POST' ? { x: 1 } : undefined, auth(who));
          expect({ spelling, who, ...denied(r) }).toEqual({ spelling, who, status: 403, error: 'PERMISSION_DENIED' });
        }
      }
    });

    it("keeps team A's training away from team B's model", async () => {
      const r = await request(api, 'POST', '/api/2.0/mlflow/model-versions/create', { name: 'churn', source: 'runs:/r/model' }, trainingA);
      expect(JSON.parse(r.body)).toEqual({ error_code: 'PERMISSION_DENIED', message: "team-a.fraud-pipeline may not use model 'churn'; it may use fraud" });
      for (const [method, p, body] of [
        ['POST', '/api/2.0/mlflow/registered-models/create', { name: 'churn' }],
        ['POST', '/api/2.0/mlflow/registered-models/alias', { name: 'churn', alias: 'staging', version: '1' }],
        ['POST', '/api/2.0/mlflow/model-versions/set-tag', { name: 'churn', version: '1', key: 'note', value: 'x' }],
        ['PATCH', '/ajax-api/2.0/mlflow/model-versions/update', { name: 'churn', version: '1', description: 'x' }],
      ] as Array<[string, string, object]>) {
        expect({ p, ...denied(await request(api, method, p, body, trainingA)) }).toEqual({ p, status: 403, error: 'PERMISSION_DENIED' });
      }
      // the same calls on its own model pass
      const own = await request(api, 'POST', '/api/2.0/mlflow/model-versions/create', { name: 'fraud', source: 'runs:/r/model' }, trainingA);
      expect(relayed(own)).toEqual({ status: 200, upstream: 'mlflow' });
      const teamB = await request(api, 'POST', '/api/2.0/mlflow/model-versions/create', { name: 'churn', source: 'runs:/r/model' }, auth('team-b.churn-pipeline'));
      expect(relayed(teamB)).toEqual({ status: 200, upstream: 'mlflow' });
    });
  });

  it('refuses, at the credential check, a registry call that reached MLflow\'s own location by another spelling', async () => {
    // NGINX sends every registry call it recognises to the gate; should one escape its location
    // match, the credential check (auth_request) decodes and merges the raw URI itself and refuses it.
    const check = (uri: string) => new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: gate, path: '/_identity', headers: { 'X-Original-URI': uri, 'X-Original-Method': 'DELETE', Authorization: trainingA } }, (res) => {
        res.resume(); resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(await check('/api/2.0/mlflow/model-versions%2Fdelete')).toBe(403);
    expect(await check('//ajax-api/2.0//mlflow/registered-models/rename/')).toBe(403);
    expect(await check('/api/2.0/mlflow/runs/delete')).toBe(200);
  });

  describe('audit', () => {
    it('records every registry change, allowed or refused, with who, what and when', async () => {
      await request(api, 'POST', '/api/2.0/mlflow/registered-models/alias', { name: 'fraud', alias: 'champion', version: '9' }, trainingA);
      await request(promotion, 'POST', '/api/2.0/mlflow/registered-models/alias', { name: 'fraud', alias: 'champion', version: '9' }, promoter);
      await new Promise((r) => setTimeout(r, 200));
      const records = gateOutput.map((l) => JSON.parse(l)).filter((r) => r.version === '9');
      expect(records).toEqual([
        expect.objectContaining({ source: 'registry-gate', port: 'api', user: 'team-a.fraud-pipeline', method: 'POST', call: 'registered-models/alias', name: 'fraud', alias: 'champion', decision: 'refused', reason: "alias 'champion' is moved only through the promotion endpoint" }),
        expect.objectContaining({ port: 'promotion', user: 'ci.promoter', call: 'registered-models/alias', decision: 'allowed' }),
        expect.objectContaining({ port: 'promotion', user: 'ci.promoter', decision: 'done', status: 200 }),
      ]);
      for (const r of records) expect(Date.now() - Date.parse(r.time)).toBeLessThan(60_000);
      // reads are not recorded
      expect(gateOutput.map((l) => JSON.parse(l)).filter((r) => r.method === 'GET' && r.decision !== 'refused')).toEqual([]);
    });

    it('keeps every record on its own line when many calls arrive at once (one write per record)', async () => {
      const before = gateOutput.length;
      // 40 refused alias moves at once, each handled by its own request thread of the gate
      await Promise.all(Array.from({ length: 40 }, (_, i) => request(api, 'POST', '/api/2.0/mlflow/registered-models/alias', { name: 'fraud', alias: 'champion', version: `c${i}` }, trainingA)));
      await new Promise((r) => setTimeout(r, 300));
      const lines = gateOutput.slice(before);
      const parsed = lines.map((l) => { try { return JSON.parse(l); } catch { return l; } });
      expect(parsed.filter((r) => typeof r === 'string')).toEqual([]);
      expect(new Set(parsed.filter((r) => /^c\d+$/.test(r.version ?? '')).map((r) => r.version)).size).toBe(40);
    });

    it('has NGINX record every other change on either port, with the user the gate knew', async () => {
      await request(api, 'POST', '/api/2.0/mlflow/runs/create', { experiment_id: '42' }, trainingA);
      await new Promise((r) => setTimeout(r, 200));
      const lines = fs.readFileSync(path.join(dir, 'access.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
      expect(lines).toContainEqual(expect.objectContaining({ source: 'gateway', port: String(api), user: 'team-a.fraud-pipeline', method: 'POST', uri: '/api/2.0/mlflow/runs/create', status: '200' }));
      expect(lines).toContainEqual(expect.objectContaining({ port: String(promotion), user: 'ci.promoter', uri: '/api/2.0/mlflow/registered-models/alias', status: '200' }));
      expect(lines.filter((l) => l.method === 'GET')).toEqual([]);
    });
  });
});

describeWithTool(tools, 'the registry gate writes its records to CloudWatch Logs before it relays a change', () => {
  // boto3 stands in for CloudWatch Logs: a module on PYTHONPATH that appends each call to a file,
  // and fails PutLogEvents while a flag file exists.
  const base = 21000 + Math.floor(Math.random() * 20000);
  const [mlflow, gate] = [base + 10, base + 11];
  const dir = tempDir('mlops-gate-cw-');
  const processes: ChildProcess[] = [];
  const calls = () => (fs.existsSync(path.join(dir, 'calls')) ? fs.readFileSync(path.join(dir, 'calls'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);

  beforeAll(async () => {
    fs.mkdirSync(path.join(dir, 'fake'));
    fs.writeFileSync(path.join(dir, 'fake', 'boto3.py'), `
import json, os
DIR = os.environ["FAKE_DIR"]
class Logs:
    def create_log_stream(self, **kw):
        self.record("create_log_stream", kw)
    def put_log_events(self, **kw):
        if os.path.exists(os.path.join(DIR, "fail")):
            raise RuntimeError("AccessDenied")
        self.record("put_log_events", kw)
    def record(self, name, kw):
        with open(os.path.join(DIR, "calls"), "a") as f:
            f.write(json.dumps({"call": name, **kw}) + "\\n")
def client(name):
    assert name == "logs"
    return Logs()
`);
    fs.writeFileSync(path.join(dir, 'stub.py'), `
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class Stub(BaseHTTPRequestHandler):
    def answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(os.path.join(sys.argv[2], "relayed"), "a") as f:
            f.write(self.path + "\\n")
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}")
    do_GET = do_POST = do_DELETE = answer
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), Stub).serve_forever()
`);
    fs.writeFileSync(path.join(dir, 'gate.py'), REGISTRY_GATE_SCRIPT);
    const env = {
      ...process.env, UPSTREAM: `http://127.0.0.1:${mlflow}`, PORT: String(gate), HOST: '127.0.0.1', PROTECTED_ALIASES: 'champion',
      AUDIT_LOG_GROUP: '/mlops/acme-dev-registry/registry-changes', PYTHONPATH: path.join(dir, 'fake'), FAKE_DIR: dir,
    };
    const errors = fs.openSync(path.join(dir, 'stderr.log'), 'w');
    processes.push(spawn('python3', [path.join(dir, 'stub.py'), String(mlflow), dir], { stdio: ['ignore', 'ignore', errors] }));
    processes.push(spawn('python3', [path.join(dir, 'gate.py')], { env, stdio: ['ignore', 'ignore', errors] }));
    // Up to 30 s: on a loaded machine (two test workers and terraform) python may start slowly.
    for (let i = 0; i < 300; i++) {
      const ready = await Promise.all([mlflow, gate].map((p) => request(p, 'GET', '/healthz').then(() => true, () => false)));
      if (ready.every(Boolean)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the gate or the stub did not start:\n${fs.readFileSync(path.join(dir, 'stderr.log'), 'utf8')}`);
  });

  afterAll(() => processes.forEach((p) => p.kill()));

  it('appends a record per change to its own stream of the log group, then relays', async () => {
    const r = await request(gate, 'POST', '/api/2.0/mlflow/registered-models/alias', { name: 'fraud', alias: 'staging', version: '3' });
    expect(r.status).toBe(200);
    // The outcome record ('done') may be written just after the answer is relayed: wait for it (2 s at most).
    for (let i = 0; i < 40 && calls().length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const [create, ...puts] = calls();
    expect(create).toMatchObject({ call: 'create_log_stream', logGroupName: '/mlops/acme-dev-registry/registry-changes' });
    const records = puts.map((p) => JSON.parse(p.logEvents[0].message));
    expect(puts.every((p) => p.logStreamName === create.logStreamName)).toBe(true);
    expect(records).toEqual([
      expect.objectContaining({ call: 'registered-models/alias', name: 'fraud', alias: 'staging', version: '3', decision: 'allowed' }),
      expect.objectContaining({ call: 'registered-models/alias', decision: 'done', status: 200 }),
    ]);
  });

  it('does not make a change it could not record', async () => {
    fs.writeFileSync(path.join(dir, 'fail'), '');
    try {
      const before = fs.readFileSync(path.join(dir, 'relayed'), 'utf8');
      const r = await request(gate, 'POST', '/api/2.0/mlflow/model-versions/create', { name: 'fraud', source: 'runs:/r/model' });
      expect(JSON.parse(r.body)).toEqual({ error_code: 'PERMISSION_DENIED', message: 'the registry could not record this change, so it is not made' });
      expect(fs.readFileSync(path.join(dir, 'relayed'), 'utf8')).toBe(before);
    } finally {
      fs.unlinkSync(path.join(dir, 'fail'));
    }
  });
});

function request(port: number, method: string, urlPath: string, body?: object, authorization?: string): Promise<{ status: number; body: string }> {
  return requestWith(port, method, urlPath, body, authorization ? { Authorization: authorization } : {});
}

function requestWith(port: number, method: string, urlPath: string, body: object | undefined, extra: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body ? JSON.stringify(body) : undefined;
    const headers: Record<string, string | number> = { ...(data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}), ...extra };
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, timeout: 2000, headers }, (res) => {
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
