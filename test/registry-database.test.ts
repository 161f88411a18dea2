import * as fs from 'fs';
import * as path from 'path';
import { bootstrapSql, DatabaseCaBundle, ModelRegistry, PlatformTesting, REGISTRY_DB_SCRIPT, REGISTRY_DB_USER } from '../src';
import { manifestErrors } from './harness/kubernetes';
import { checkWithTerraform, expectTerraformOk, plannedResources, terraformTool } from './harness/terraform';
import { describeWithTool, onPath, run, tempDir } from './harness/tools';
import { onlyResource, policyStatements, resourcesOf, TEST_CLUSTER, testPlatform } from './harness/fixtures';

// Issues 14 and 19: MLflow used a copy of the RDS-managed master password (stale after RDS rotates
// it every 7 days) and ran as the master user. It now connects as its own role with IAM database
// authentication tokens, verifying the server with the RDS CA (verify-full); only a bootstrap Job
// reads the master secret, when it runs.

function synthRegistry(props: Partial<ConstructorParameters<typeof ModelRegistry>[2]> = {}) {
  const { app, stack } = testPlatform();
  const registry = new ModelRegistry(stack, 'registry', { cluster: TEST_CLUSTER, ...props });
  const out = PlatformTesting.synth(app);
  const docs = out.manifests['aws/registry.k8s.yaml'];
  return { registry, aws: out.terraform.aws, kubernetes: out.terraform.kubernetes, manifests: out.manifests, docs };
}

const policyNamed = (aws: any, name: string) => Object.values(resourcesOf(aws, 'aws_iam_role_policy')).find((p: any) => p.name === name) as any;
const roleNamed = (aws: any, name: string) => Object.entries(resourcesOf(aws, 'aws_iam_role')).find(([, r]: any) => r.name === name)!;
const containersOf = (spec: any): any[] => [...(spec.initContainers ?? []), ...(spec.containers ?? [])];

describe('the registry database connection', () => {
  const { aws, kubernetes, manifests, docs } = synthRegistry();
  const [dbId] = Object.keys(resourcesOf(aws, 'aws_db_instance'));
  const deployment = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'mlflow');
  const pod = deployment.spec.template.spec;
  const mlflow = pod.containers.find((c: any) => c.name === 'mlflow');
  const sidecar = pod.initContainers.find((c: any) => c.name === 'db-token');
  const job = docs.find((d) => d.kind === 'Job');

  it('enables IAM database authentication on the instance', () => {
    expect(onlyResource(aws, 'aws_db_instance')).toMatchObject({ iam_database_authentication_enabled: true, manage_master_user_password: true });
  });

  it('lets the server connect as mlflow_app of this instance only (rds-db:connect on exactly that db-user ARN)', () => {
    // Service Authorization Reference, Amazon RDS IAM Authentication: db-user is
    // arn:${Partition}:rds-db:${Region}:${Account}:dbuser:${DbiResourceId}/${DbUserName}.
    const statements = policyStatements(policyNamed(aws, 'registry-db-connect').policy);
    expect(statements).toEqual([{
      Sid: 'ConnectWithIamToken', Effect: 'Allow', Action: ['rds-db:connect'],
      Resource: [`arn:aws:rds-db:eu-west-1:123456789012:dbuser:\${aws_db_instance.${dbId}.resource_id}/mlflow_app`],
    }]);
    const [serverRoleId] = roleNamed(aws, 'acme-dev-registry-server');
    expect(policyNamed(aws, 'registry-db-connect').role).toBe(`\${aws_iam_role.${serverRoleId}.name}`);
  });

  it('lets only the bootstrap role read the master secret, and it nothing else', () => {
    const [bootstrapRoleId] = roleNamed(aws, 'acme-dev-registry-db-bootstrap');
    const policies = Object.values(resourcesOf(aws, 'aws_iam_role_policy')) as any[];
    const ofBootstrap = policies.filter((p) => p.role === `\${aws_iam_role.${bootstrapRoleId}.name}`);
    expect(ofBootstrap.map((p) => p.name)).toEqual(['registry-db-master-secret']);
    const secretArn = `\${aws_db_instance.${dbId}.master_user_secret[0].secret_arn}`;
    expect(policyStatements(ofBootstrap[0].policy)).toEqual([
      { Sid: 'ReadMasterUserSecret', Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [secretArn] },
      {
        Sid: 'DecryptMasterUserSecret', Effect: 'Allow', Action: ['kms:Decrypt'], Resource: [expect.stringMatching(/^\$\{aws_kms_key\.registry_key_\w+\.arn\}$/)],
        Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com', 'kms:EncryptionContext:SecretARN': secretArn } },
      },
    ]);
    // No other policy names the master secret.
    expect(policies.filter((p) => p.policy.includes('master_user_secret')).map((p) => p.name)).toEqual(['registry-db-master-secret']);
    // Its trust: the Pod Identity association of the bootstrap's service account alone.
    const association = Object.values(resourcesOf(aws, 'aws_eks_pod_identity_association')).find((a: any) => a.role_arn === `\${aws_iam_role.${bootstrapRoleId}.arn}`) as any;
    expect(association).toMatchObject({ namespace: 'mlflow', service_account: 'mlflow-db-bootstrap' });
  });

  it('writes no password into the cluster: no Secret, and no Terraform read of the master secret into state', () => {
    expect(resourcesOf(kubernetes, 'kubernetes_secret_v1')).toEqual({});
    expect(kubernetes.data?.aws_secretsmanager_secret_version).toBeUndefined();
    expect(JSON.stringify(kubernetes)).not.toMatch(/password/i);
    expect(docs.filter((d) => d.kind === 'Secret')).toEqual([]);
  });

  it('connects MLflow as mlflow_app with TLS verify-full and the token file, never a password', () => {
    const env = Object.fromEntries(mlflow.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toMatchObject({
      DB_USERNAME: REGISTRY_DB_USER,
      PGSSLMODE: 'verify-full',
      PGSSLROOTCERT: '/var/run/registry-db/rds-ca.pem',
      PGPASSFILE: '/var/run/registry-db/pgpass',
      // verify-full matches the certificate to the host name: the instance's endpoint, not an IP or an alias.
      DB_HOST: { configMapKeyRef: { name: 'mlflow-db', key: 'host' } },
    });
    expect(mlflow.args).toContain('--backend-store-uri=postgresql://$(DB_USERNAME)@$(DB_HOST):$(DB_PORT)/$(DB_NAME)');
    for (const c of containersOf(pod)) expect(c.env?.map((e: any) => e.name) ?? []).not.toContain('PGPASSWORD');
    // The token directory is the sidecar's to write: MLflow reads it.
    expect(mlflow.volumeMounts).toEqual(expect.arrayContaining([{ name: 'db-auth', mountPath: '/var/run/registry-db', readOnly: true }]));
    expect(pod.volumes.find((v: any) => v.name === 'db-auth')).toEqual({ name: 'db-auth', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } });
  });

  it('refreshes the token in a native sidecar that MLflow waits for', () => {
    // Kubernetes docs, "Sidecar containers": an init container with restartPolicy Always keeps running,
    // and the next containers start only once its startupProbe succeeded.
    expect(pod.initContainers.map((c: any) => c.name)).toEqual(['db-token']);
    expect(sidecar).toMatchObject({
      restartPolicy: 'Always',
      command: ['python', '/registry-db/registry_db.py', 'token'],
      startupProbe: { exec: { command: ['python', '/registry-db/registry_db.py', 'check'] } },
      readinessProbe: { exec: { command: ['python', '/registry-db/registry_db.py', 'check'] } },
      livenessProbe: { exec: { command: ['python', '/registry-db/registry_db.py', 'check'] } },
      resources: { requests: { cpu: '10m', memory: '96Mi' }, limits: { cpu: '200m', memory: '192Mi' } },
      securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    });
    const env = Object.fromEntries(sidecar.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toMatchObject({
      DB_USER: 'mlflow_app', AWS_REGION: 'eu-west-1', REFRESH_SECONDS: '300',
      CA_URL: 'https://truststore.pki.rds.amazonaws.com/eu-west-1/eu-west-1-bundle.pem',
    });
    const scripts = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'mlflow-db-access');
    expect(scripts.data['registry_db.py']).toBe(REGISTRY_DB_SCRIPT.trimStart());
    expect(scripts.data['bootstrap.sql']).toBe(bootstrapSql('mlflow_app', 'mlflow'));
  });

  it('creates the role in a bootstrap Job that reads the master secret when it runs', () => {
    expect(job.metadata.name).toMatch(/^mlflow-db-bootstrap-[0-9a-f]{10}$/);
    const spec = job.spec.template.spec;
    expect(spec).toMatchObject({ serviceAccountName: 'mlflow-db-bootstrap', automountServiceAccountToken: false, restartPolicy: 'Never' });
    const [container] = spec.containers;
    expect(container.command).toEqual(['python', '/registry-db/registry_db.py', 'bootstrap']);
    const env = Object.fromEntries(container.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toMatchObject({
      MASTER_SECRET_ARN: { configMapKeyRef: { name: 'mlflow-db', key: 'master-secret-arn' } },
      PGSSLMODE: 'verify-full', SQL_FILE: '/registry-db/bootstrap.sql',
    });
    expect(Object.keys(env)).not.toContain('PGPASSWORD');
    const sa = docs.find((d) => d.kind === 'ServiceAccount' && d.metadata.name === 'mlflow-db-bootstrap');
    expect(sa.automountServiceAccountToken).toBe(false);
  });

  it('names the Job after what it runs: the same platform gives the same name, another CA source another', () => {
    expect(synthRegistry().docs.find((d) => d.kind === 'Job').metadata.name).toBe(job.metadata.name);
    const pem = synthRegistry({ database: { caBundle: DatabaseCaBundle.fromPem('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n') } });
    expect(pem.docs.find((d) => d.kind === 'Job').metadata.name).not.toBe(job.metadata.name);
  });

  it('lets the pods reach PostgreSQL in the VPC only, and admits nothing to the bootstrap', () => {
    const postgresRules = (policy: any) => policy.spec.egress.filter((r: any) => r.ports?.some((p: any) => p.port === 5432));
    const server = docs.find((d) => d.kind === 'NetworkPolicy' && d.metadata.name === 'mlflow');
    const bootstrap = docs.find((d) => d.kind === 'NetworkPolicy' && d.metadata.name === 'mlflow-db-bootstrap');
    for (const policy of [server, bootstrap]) expect(postgresRules(policy)).toEqual([{ to: [{ ipBlock: { cidr: '10.0.0.0/16' } }], ports: [{ protocol: 'TCP', port: 5432 }] }]);
    expect(bootstrap.spec.podSelector.matchLabels).toEqual(job.spec.template.metadata.labels);
    expect(bootstrap.spec).toMatchObject({ policyTypes: ['Ingress', 'Egress'], ingress: [] });
    // The Pod Identity agent, for the role's credentials.
    expect(bootstrap.spec.egress).toEqual(expect.arrayContaining([{ to: [{ ipBlock: { cidr: '169.254.170.23/32' } }], ports: [{ protocol: 'TCP', port: 80 }] }]));
  });

  it('passes the Kubernetes schema check', () => {
    expect(manifestErrors(manifests)).toEqual([]);
  });
});

describe('the registry database with a CA bundle supplied', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
  const { docs, manifests } = synthRegistry({ database: { caBundle: DatabaseCaBundle.fromPem(pem) } });

  it('mounts it from a ConfigMap and downloads nothing', () => {
    expect(docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'mlflow-db-ca').data).toEqual({ 'rds-ca.pem': pem });
    const pods = [docs.find((d) => d.kind === 'Deployment').spec.template.spec, docs.find((d) => d.kind === 'Job').spec.template.spec];
    for (const pod of pods) {
      for (const c of containersOf(pod).filter((x) => x.name !== 'gateway' && x.name !== 'registry-gate')) {
        const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
        expect(env.PGSSLROOTCERT).toBe('/registry-db-ca/rds-ca.pem');
        expect(env.CA_URL).toBeUndefined();
        expect(c.volumeMounts).toEqual(expect.arrayContaining([{ name: 'db-ca', mountPath: '/registry-db-ca', readOnly: true }]));
      }
    }
    expect(manifestErrors(manifests)).toEqual([]);
  });

  it('refuses a bundle that is not PEM, and a database user IAM cannot name', () => {
    expect(() => synthRegistry({ database: { caBundle: DatabaseCaBundle.fromPem('not a certificate') } }))
      .toThrow(/ModelRegistry 'aws\/registry': database\.caBundle \('not a certificate\.\.\.'\) must be PEM certificates/);
    const { registry } = synthRegistry();
    expect(() => registry.database.dbUserArn('MLflow-App')).toThrow(/user \('MLflow-App'\) must be a lower-case PostgreSQL role name/);
  });
});

describeWithTool(terraformTool, 'the registry database checked by terraform', () => {
  it('plans IAM authentication and the connect and master-secret policies offline', () => {
    const plan = expectTerraformOk(checkWithTerraform(synthRegistry().aws));
    expect(plannedResources(plan, 'aws_db_instance')[0].values).toMatchObject({ iam_database_authentication_enabled: true, manage_master_user_password: true });
    const policies = plan.resource_changes.filter((c) => c.type === 'aws_iam_role_policy').map((c) => (c.change as any).after?.name);
    expect(policies).toEqual(expect.arrayContaining(['registry-db-connect', 'registry-db-master-secret']));
  });
});

// The script's own code, run with python3: boto3 is stubbed (no AWS here), libpq is the real one (psql).
const pythonTool = onPath('python3') ? { available: true } : { available: false, reason: 'python3 is not on PATH' };

/** Stub modules of boto3 and psycopg2 that log their calls; psycopg2's cursor runs the SQL with the real psql. */
function stubModules(dir: string): void {
  fs.writeFileSync(path.join(dir, 'boto3.py'), `
import json, os
def _log(entry):
    with open(os.environ['STUB_LOG'], 'a') as f:
        f.write(json.dumps(entry) + '\\n')
class _Rds:
    def generate_db_auth_token(self, **kw):
        _log({'call': 'generate_db_auth_token', **kw})
        return os.environ['STUB_TOKEN']
class _Secrets:
    def get_secret_value(self, **kw):
        _log({'call': 'get_secret_value', **kw})
        return {'SecretString': os.environ['STUB_SECRET']}
def client(name, region_name=None):
    _log({'call': 'client', 'service': name, 'region': region_name})
    return _Rds() if name == 'rds' else _Secrets()
`);
  fs.writeFileSync(path.join(dir, 'psycopg2.py'), `
import json, os, subprocess
from boto3 import _log
class _Cursor:
    def __init__(self, kw): self.kw = kw
    def __enter__(self): return self
    def __exit__(self, *a): return False
    def execute(self, sql):
        kw = self.kw
        dsn = 'host=%s port=%s dbname=%s user=%s sslmode=%s sslrootcert=%s' % (kw['host'], kw['port'], kw['dbname'], kw['user'], kw['sslmode'], kw['sslrootcert'])
        env = dict(os.environ, PGPASSWORD=kw['password'])
        # psycopg2 runs the statements in the connection's transaction: psql --single-transaction
        r = subprocess.run(['psql', dsn, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-f', '-'], input=sql, text=True, env=env, capture_output=True)
        _log({'call': 'execute', 'status': r.returncode, 'stderr': r.stderr})
        if r.returncode != 0: raise RuntimeError(r.stderr)
class _Connection:
    def __init__(self, kw): self.kw = kw
    def __enter__(self): return self
    def __exit__(self, *a): _log({'call': 'commit' if a[0] is None else 'rollback'}); return False
    def cursor(self): return _Cursor(self.kw)
    def close(self): _log({'call': 'close'})
def connect(**kw):
    _log({'call': 'connect', **{k: v for k, v in kw.items() if k != 'password'}, 'password_given': bool(kw.get('password'))})
    return _Connection(kw)
`);
}

describeWithTool(pythonTool, 'the token sidecar\'s and the bootstrap\'s code, run with python3', () => {
  const dir = tempDir('mlops-registry-db-');
  const script = path.join(dir, 'registry_db.py');
  fs.writeFileSync(script, REGISTRY_DB_SCRIPT);
  stubModules(dir);
  const ca = path.join(dir, 'ca.pem');
  fs.writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const base = (extra: Record<string, string> = {}) => ({
    ...process.env, PYTHONPATH: dir, STUB_LOG: path.join(dir, 'calls.log'), DB_HOST: 'registry.abc.eu-west-1.rds.amazonaws.com', DB_PORT: '5432',
    DB_NAME: 'mlflow', DB_USER: 'mlflow_app', AWS_REGION: 'eu-west-1', PGSSLROOTCERT: ca, PGPASSFILE: path.join(dir, 'pgpass'), ...extra,
  });
  const calls = () => fs.readFileSync(path.join(dir, 'calls.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

  it('writes the token as a 0600 password file line, with \':\' and \'\\\' escaped as libpq reads them', () => {
    // A real token is a presigned URL: host:port/?Action=connect&DBUser=...&X-Amz-Signature=...
    const token = 'registry.abc.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=mlflow_app&X-Amz-Credential=A%2F1\\x';
    fs.rmSync(path.join(dir, 'calls.log'), { force: true });
    const r = run('python3', [script, 'token'], { env: base({ ONCE: '1', STUB_TOKEN: token }) });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // PostgreSQL docs, libpq-pgpass: hostname:port:database:username:password; ':' and '\' escaped with '\'.
    expect(fs.readFileSync(path.join(dir, 'pgpass'), 'utf8')).toBe(
      'registry.abc.eu-west-1.rds.amazonaws.com:5432:mlflow:mlflow_app:registry.abc.eu-west-1.rds.amazonaws.com\\:5432/?Action=connect&DBUser=mlflow_app&X-Amz-Credential=A%2F1\\\\x\n');
    // libpq ignores a password file that group or others may read.
    expect(fs.statSync(path.join(dir, 'pgpass')).mode & 0o777).toBe(0o600);
    expect(calls()).toEqual([
      { call: 'client', service: 'rds', region: 'eu-west-1' },
      { call: 'generate_db_auth_token', DBHostname: 'registry.abc.eu-west-1.rds.amazonaws.com', Port: 5432, DBUsername: 'mlflow_app', Region: 'eu-west-1' },
    ]);
  });

  it('says a fresh file is fresh, and a stale or missing one is not (the probes)', () => {
    const check = (extra: Record<string, string> = {}) => run('python3', [script, 'check'], { env: base(extra) }).status;
    expect(check()).toBe(0);
    const old = new Date(Date.now() - 1000 * 1000);
    fs.utimesSync(path.join(dir, 'pgpass'), old, old);
    expect(check({ MAX_AGE_SECONDS: '720' })).toBe(1);
    expect(check({ PGPASSFILE: path.join(dir, 'missing') })).toBe(1);
  });

  it('refuses a CA bundle that is not PEM, and a CA URL that is not https', () => {
    const bad = path.join(dir, 'bad.pem');
    fs.writeFileSync(bad, 'hello');
    expect(run('python3', [script, 'token'], { env: base({ ONCE: '1', STUB_TOKEN: 't', PGSSLROOTCERT: bad }) }).stderr).toMatch(/holds no PEM certificate/);
    expect(run('python3', [script, 'token'], { env: base({ ONCE: '1', STUB_TOKEN: 't', CA_URL: 'http://example.invalid/ca.pem' }) }).stderr).toMatch(/CA_URL must be an https:\/\/ URL/);
  });
});

// A real PostgreSQL (the Debian package of the machine image) plays RDS: a non-superuser master with
// CREATEROLE that owns the database (as RDS's master user does), a role `rds_iam`, and TLS with a
// certificate for `localhost` signed by a CA of the test's own.
function findPostgresBin(): string | undefined {
  for (const dir of ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin']) {
    if (fs.existsSync(path.join(dir, 'initdb'))) return dir;
  }
  const initdb = run('sh', ['-c', 'command -v initdb']).stdout.trim();
  return initdb ? path.dirname(initdb) : undefined;
}
const pgBin = findPostgresBin();
const postgresTool = pgBin && onPath('psql') && onPath('openssl') && onPath('python3')
  ? { available: true } : { available: false, reason: 'PostgreSQL (initdb, psql), openssl or python3 is missing' };

describeWithTool(postgresTool, 'the bootstrap and the token file on a real PostgreSQL with TLS', () => {
  // PostgreSQL refuses to run as root: as root, run the server as the `postgres` user, in a folder
  // it can reach (the test run's folder is private to root).
  const root = process.getuid?.() === 0;
  const pgUser = root ? run('id', ['-u', 'postgres']) : undefined;
  const owner = root && pgUser?.status === 0 ? { uid: Number(pgUser.stdout.trim()), gid: Number(run('id', ['-g', 'postgres']).stdout.trim()) } : undefined;
  const dir = owner ? fs.mkdtempSync('/tmp/mlops-registry-pg-') : tempDir('mlops-registry-pg-');
  const data = path.join(dir, 'data');
  const port = String(20000 + (process.pid % 20000));
  const asServer = (cmd: string, args: string[]) => run(path.join(pgBin!, cmd), args, { ...(owner ?? {}), cwd: dir } as any);
  const ca = path.join(dir, 'ca.pem');
  const masterPassword = 'master:pass\\word&1';
  const psql = (sql: string, conn: string, env: Record<string, string> = {}) =>
    run('psql', [conn, '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-c', sql], { env: { ...process.env, ...env } });
  const superuser = (sql: string, db = 'postgres') => psql(sql, `host=${dir} port=${port} dbname=${db} user=postgres`);
  const scriptDir = tempDir('mlops-registry-pg-script-');
  const script = path.join(scriptDir, 'registry_db.py');
  const sqlFile = path.join(scriptDir, 'bootstrap.sql');
  const env = (extra: Record<string, string>) => ({
    ...process.env, PYTHONPATH: scriptDir, STUB_LOG: path.join(scriptDir, 'calls.log'), DB_HOST: 'localhost', DB_PORT: port, DB_NAME: 'mlflow',
    DB_USER: 'mlflow_app', AWS_REGION: 'eu-west-1', PGSSLROOTCERT: ca, PGPASSFILE: path.join(scriptDir, 'pgpass'), SQL_FILE: sqlFile, ...extra,
  });
  let started = false;

  beforeAll(() => {
    fs.writeFileSync(script, REGISTRY_DB_SCRIPT);
    fs.writeFileSync(sqlFile, bootstrapSql('mlflow_app', 'mlflow'));
    stubModules(scriptDir);
    const ssl = (args: string[]) => {
      const r = run('openssl', args, { cwd: dir });
      if (r.status !== 0) throw new Error(r.stderr);
    };
    ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=Test RDS CA']);
    ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
    fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=DNS:localhost\n');
    ssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'san.ext']);
    fs.chmodSync(path.join(dir, 'server.key'), 0o600);
    if (owner) {
      fs.chmodSync(dir, 0o755);
      for (const f of ['server.key', 'server.crt']) fs.chownSync(path.join(dir, f), owner.uid, owner.gid);
      fs.mkdirSync(data, { mode: 0o700 });
      fs.chownSync(data, owner.uid, owner.gid);
      fs.chownSync(dir, owner.uid, owner.gid);
    }
    const init = asServer('initdb', ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync']);
    if (init.status !== 0) throw new Error(`initdb: ${init.stderr}`);
    const start = asServer('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', 'start', '-o',
      `-p ${port} -k ${dir} -c listen_addresses=localhost -c ssl=on -c ssl_cert_file=${dir}/server.crt -c ssl_key_file=${dir}/server.key -c fsync=off`]);
    if (start.status !== 0) throw new Error(`pg_ctl start: ${start.stderr}\n${fs.existsSync(path.join(dir, 'server.log')) ? fs.readFileSync(path.join(dir, 'server.log'), 'utf8') : ''}`);
    started = true;
    // RDS: the master user is no superuser, but may create roles; it owns the initial database; rds_iam exists.
    for (const sql of [
      'CREATE ROLE rds_iam',
      `CREATE ROLE registry_admin LOGIN CREATEROLE CREATEDB PASSWORD '${masterPassword.replace(/'/g, "''")}'`,
      'CREATE DATABASE mlflow OWNER registry_admin',
      'CREATE ROLE someone_else LOGIN',
    ]) {
      const r = superuser(sql);
      if (r.status !== 0) throw new Error(`${sql}: ${r.stderr}`);
    }
    // What an earlier release left: MLflow's tables, created as the master user.
    const r = psql('CREATE TABLE experiments (experiment_id serial PRIMARY KEY, name text); CREATE TYPE run_status AS ENUM (\'RUNNING\', \'FINISHED\'); CREATE TABLE alembic_version (version_num varchar(32))',
      `host=localhost port=${port} dbname=mlflow user=registry_admin sslmode=verify-full sslrootcert=${ca}`, { PGPASSWORD: masterPassword });
    if (r.status !== 0) throw new Error(`earlier tables: ${r.stderr}`);
  }, 120_000);

  afterAll(() => {
    if (started) asServer('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
    if (owner) fs.rmSync(dir, { recursive: true, force: true });
  });

  const bootstrap = () => run('python3', [script, 'bootstrap'], {
    env: env({ MASTER_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1', STUB_SECRET: JSON.stringify({ username: 'registry_admin', password: masterPassword }) }),
  });

  it('creates mlflow_app as the master user, over verify-full TLS, with the credentials read when it runs', () => {
    fs.rmSync(path.join(scriptDir, 'calls.log'), { force: true });
    const r = bootstrap();
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/role mlflow_app is ready/);
    const log = fs.readFileSync(path.join(scriptDir, 'calls.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log).toEqual([
      { call: 'client', service: 'secretsmanager', region: 'eu-west-1' },
      { call: 'get_secret_value', SecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1' },
      { call: 'connect', host: 'localhost', port: Number(port), dbname: 'mlflow', user: 'registry_admin', password_given: true, sslmode: 'verify-full', sslrootcert: ca, connect_timeout: 10 },
      { call: 'execute', status: 0, stderr: '' },
      { call: 'commit' },
      { call: 'close' },
    ]);
  });

  it('runs again without error and changes nothing (idempotent)', () => {
    const before = superuser('SELECT rolname, rolcanlogin FROM pg_roles ORDER BY 1').stdout;
    const r = bootstrap();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(superuser('SELECT rolname, rolcanlogin FROM pg_roles ORDER BY 1').stdout).toBe(before);
  });

  it('gives mlflow_app IAM authentication and no power beyond its database', () => {
    expect(superuser('SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolpassword IS NULL FROM pg_authid WHERE rolname = \'mlflow_app\'').stdout.trim())
      .toBe('t|f|f|f|f|f|t');
    expect(superuser('SELECT pg_has_role(\'mlflow_app\', \'rds_iam\', \'MEMBER\')').stdout.trim()).toBe('t');
    // The temporary membership of the master user in mlflow_app is gone.
    expect(superuser('SELECT pg_has_role(\'registry_admin\', \'mlflow_app\', \'MEMBER\')').stdout.trim()).toBe('f');
    expect(superuser('SELECT has_database_privilege(\'mlflow_app\', \'mlflow\', \'CONNECT\'), has_database_privilege(\'someone_else\', \'mlflow\', \'CONNECT\')').stdout.trim()).toBe('t|f');
    // It may create MLflow's tables, and not roles or databases.
    const as = (sql: string) => superuser(`SET ROLE mlflow_app; ${sql}`, 'mlflow');
    expect(as('CREATE TABLE metrics (key text)').status).toBe(0);
    expect(as('CREATE ROLE intruder').stderr).toMatch(/permission denied to create role/);
    // CREATE on the database (new schemas) is not granted: CONNECT and TEMPORARY only.
    expect(as('CREATE SCHEMA other').stderr).toMatch(/permission denied for database mlflow/);
  });

  it('hands it the tables, sequences and types an earlier release created as the master user, so that migrations work', () => {
    const owners = superuser(`SELECT c.relname || '=' || pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S') ORDER BY 1`, 'mlflow').stdout.trim().split('\n');
    expect(owners).toEqual(['alembic_version=mlflow_app', 'experiments=mlflow_app', 'experiments_experiment_id_seq=mlflow_app', 'metrics=mlflow_app']);
    expect(superuser('SELECT pg_get_userbyid(typowner) FROM pg_type WHERE typname = \'run_status\'', 'mlflow').stdout.trim()).toBe('mlflow_app');
    expect(superuser('SET ROLE mlflow_app; ALTER TABLE experiments ADD COLUMN lifecycle_stage text', 'mlflow').status).toBe(0);
    // The earlier release's servers, still connected as the master user during the rollout, keep working.
    const earlier = psql('INSERT INTO experiments (name) VALUES (\'during the rollout\') RETURNING experiment_id',
      `host=localhost port=${port} dbname=mlflow user=registry_admin sslmode=verify-full sslrootcert=${ca}`, { PGPASSWORD: masterPassword });
    expect(earlier.stderr).toBe('');
    expect(earlier.stdout.trim()).toBe('1');
  });

  it('connects as MLflow does: a URI without password, the token from the password file, verify-full (libpq)', () => {
    // Locally the token is the role's password (RDS checks the IAM signature instead); it carries the
    // ':' and '&' of a real token. Each refresh writes a new one, and a new connection reads it.
    for (const token of ['localhost:5432/?Action=connect&DBUser=mlflow_app&X-Amz-Signature=1', 'localhost:5432/?Action=connect&X-Amz-Signature=2\\b']) {
      expect(superuser(`ALTER ROLE mlflow_app PASSWORD '${token}'`).status).toBe(0);
      const w = run('python3', [script, 'token'], { env: env({ ONCE: '1', STUB_TOKEN: token }) });
      expect(w.stderr).toBe('');
      const mlflow = psql('SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()', `postgresql://mlflow_app@localhost:${port}/mlflow`, {
        PGPASSFILE: path.join(scriptDir, 'pgpass'), PGSSLMODE: 'verify-full', PGSSLROOTCERT: ca,
      });
      expect(mlflow.stderr).toBe('');
      expect(mlflow.stdout.trim()).toBe('mlflow_app|t');
    }
  });

  it('stops, changing nothing, when mlflow_app has a power a master user cannot take away', () => {
    // A non-superuser cannot set or clear SUPERUSER, REPLICATION or BYPASSRLS (PostgreSQL docs, ALTER ROLE).
    expect(superuser('ALTER ROLE mlflow_app BYPASSRLS').status).toBe(0);
    const r = bootstrap();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/role mlflow_app is a superuser, a replication role or bypasses row security/);
    expect(superuser('ALTER ROLE mlflow_app NOBYPASSRLS').status).toBe(0);
    expect(bootstrap().status).toBe(0);
  });

  it('refuses a host name the certificate does not name (an IP or an alias) under verify-full', () => {
    const r = psql('SELECT 1', `host=127.0.0.1 port=${port} dbname=mlflow user=registry_admin sslmode=verify-full sslrootcert=${ca}`, { PGPASSWORD: masterPassword });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/does not match host name "127\.0\.0\.1"/);
  });
});
