// How the MLflow server reaches its PostgreSQL database without any long-lived password in the
// cluster (issues: the master password copied into a Secret, rotated by RDS every 7 days, and
// MLflow running as the master user).
//
// - A bootstrap Job reads the RDS-managed master credentials from Secrets Manager when it runs (its
//   own Pod Identity role may read only that secret), connects with TLS verified against the RDS CA
//   (verify-full) and runs BOOTSTRAP SQL: an idempotent script that creates the role MLflow connects
//   as, grants it `rds_iam` (IAM database authentication: "GRANT rds_iam TO db_userx", RDS user
//   guide UsingWithRDS.IAMDBAuth.DBAccounts) and only what MLflow's migrations need on its database
//   (CONNECT, TEMPORARY, USAGE and CREATE on schema public), never SUPERUSER, CREATEDB or CREATEROLE.
//   Tables an earlier release created as the master user move to the role, so that later
//   migrations (ALTER TABLE) work, and the master user keeps its rights on them while the earlier
//   release's pods are replaced; the temporary membership this needs never leaves the transaction.
// - The MLflow pod has a native sidecar (an init container with restartPolicy Always) that writes an
//   IAM authentication token (boto3 `generate_db_auth_token`, a local SigV4 presign, valid 15
//   minutes) into a libpq password file every REFRESH_SECONDS. libpq reads the password file
//   (PGPASSFILE) at each new connection when no password is given (PostgreSQL docs, libpq-pgpass),
//   so MLflow's URI has none and every new connection uses a fresh token; open connections stay
//   open (RDS checks the token only when connecting). The file is 0600 (libpq ignores a file that
//   group or others may read) with ':' and '\' escaped as the format requires.
// - Every connection verifies the server: PGSSLMODE=verify-full against the RDS CA bundle of the
//   region, with the instance's endpoint as host name (verify-full matches the certificate to it).

/** The database role MLflow connects as, with an IAM token. */
export const REGISTRY_DB_USER = 'mlflow_app';
/** Where the sidecar writes the password file and the downloaded CA bundle (an in-memory emptyDir). */
export const DB_AUTH_DIR = '/var/run/registry-db';
/** Where the scripts are mounted. */
export const DB_SCRIPTS_DIR = '/registry-db';
/** Seconds between two tokens (a token is valid for 15 minutes, so one is always at least 10 minutes from expiry). */
export const TOKEN_REFRESH_SECONDS = 300;
/** A password file older than this is stale: the sidecar is not refreshing it (liveness). */
export const TOKEN_MAX_AGE_SECONDS = 720;

/**
 * The SQL the bootstrap runs as the master user, in one transaction. Every statement may run again:
 * the role is created only when missing, grants and revokes are idempotent, and ownership moves only
 * for objects the master user still owns.
 */
export function bootstrapSql(user: string, database: string): string {
  return `-- Registry database bootstrap: the role ${user} that MLflow connects as (IAM authentication).
-- Runs as the RDS master user, in one transaction; safe to run again.
DO $bootstrap$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '${user}') THEN
    CREATE ROLE ${user} WITH LOGIN NOCREATEDB NOCREATEROLE INHERIT;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '${user}' AND (rolsuper OR rolreplication OR rolbypassrls)) THEN
    RAISE EXCEPTION 'role ${user} is a superuser, a replication role or bypasses row security: remove that before MLflow uses it';
  END IF;
END
$bootstrap$;
ALTER ROLE ${user} WITH LOGIN NOCREATEDB NOCREATEROLE INHERIT PASSWORD NULL;
GRANT rds_iam TO ${user};
REVOKE ALL ON DATABASE ${database} FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE ${database} TO ${user};
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO ${user};
-- Objects an earlier release created as the master user move to ${user}, so that MLflow's
-- migrations may alter them. ALTER ... OWNER needs membership in the new owner: granted here and
-- revoked before the transaction ends.
DO $bootstrap$
DECLARE
  item record;
  member boolean := false;
BEGIN
  FOR item IN
    SELECT format('ALTER %s %s OWNER TO ${user}',
      CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
      c.oid::regclass) AS statement
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND pg_catalog.pg_get_userbyid(c.relowner) = current_user
      AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      -- a sequence owned by a column moves with its table
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
    UNION ALL
    SELECT format('ALTER %s %s OWNER TO ${user}', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype)
    FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = 'public' AND pg_catalog.pg_get_userbyid(t.typowner) = current_user AND t.typtype IN ('e', 'd')
  LOOP
    IF NOT member THEN
      EXECUTE format('GRANT ${user} TO %I', current_user);
      member := true;
    END IF;
    EXECUTE item.statement;
  END LOOP;
  IF member THEN
    -- Servers of the earlier release, still connected as the master user until their pods are
    -- replaced, keep working on what they created (a new owner's grant, made as its member).
    EXECUTE format('GRANT ALL ON ALL TABLES IN SCHEMA public TO %I', current_user);
    EXECUTE format('GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO %I', current_user);
    EXECUTE format('REVOKE ${user} FROM %I', current_user);
  END IF;
END
$bootstrap$;
`;
}

/**
 * The sidecar's and the bootstrap's code (python, in the MLflow image, which has boto3 and psycopg2):
 * `token` refreshes the password file for ever, `check` says whether it is fresh (probes),
 * `bootstrap` runs the bootstrap SQL as the master user.
 */
export const REGISTRY_DB_SCRIPT = String.raw`
"""Registry database access: IAM authentication tokens for MLflow, and the role it connects as."""
import json
import os
import sys
import time
import urllib.request


def escape(value):
    """A field of a libpq password file: colons and backslashes are escaped with a backslash."""
    return str(value).replace('\\', '\\\\').replace(':', '\\:')


def pgpass_line(host, port, database, user, password):
    return ':'.join(escape(v) for v in (host, port, database, user, password)) + '\n'


def write_private(path, text, mode=0o600):
    """Writes a file whole (a reader sees the old or the new one, never half), with the given mode."""
    tmp = path + '.tmp'
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def ensure_ca_bundle(env):
    """Downloads the RDS CA bundle when CA_URL is set (else it is mounted), and checks it is PEM."""
    path = env['PGSSLROOTCERT']
    url = env.get('CA_URL')
    if url:
        if not url.startswith('https://'):
            raise SystemExit('CA_URL must be an https:// URL')
        with urllib.request.urlopen(url, timeout=30) as response:
            write_private(path, response.read().decode('ascii'), 0o644)
    with open(path) as f:
        if '-----BEGIN CERTIFICATE-----' not in f.read():
            raise SystemExit(path + ' holds no PEM certificate')


def write_token(env, rds):
    token = rds.generate_db_auth_token(DBHostname=env['DB_HOST'], Port=int(env['DB_PORT']), DBUsername=env['DB_USER'], Region=env['AWS_REGION'])
    write_private(env['PGPASSFILE'], pgpass_line(env['DB_HOST'], env['DB_PORT'], env['DB_NAME'], env['DB_USER'], token))


def token(env):
    import boto3
    ensure_ca_bundle(env)
    rds = boto3.client('rds', region_name=env['AWS_REGION'])
    refresh = int(env.get('REFRESH_SECONDS', '300'))
    while True:
        try:
            write_token(env, rds)
            wait = refresh
        except Exception as e:  # keep the last token; try again soon
            print('token refresh failed: %s' % e, file=sys.stderr, flush=True)
            wait = min(refresh, 15)
        if env.get('ONCE') == '1':
            return
        time.sleep(wait)


def check(env):
    """Exit 0 when the password file is fresh and the CA bundle is there (startup, readiness and liveness probes)."""
    try:
        age = time.time() - os.stat(env['PGPASSFILE']).st_mtime
        fresh = age < int(env.get('MAX_AGE_SECONDS', '720')) and os.path.getsize(env['PGSSLROOTCERT']) > 0
    except OSError:
        fresh = False
    return 0 if fresh else 1


def bootstrap(env):
    import boto3
    import psycopg2
    ensure_ca_bundle(env)
    secrets = boto3.client('secretsmanager', region_name=env['AWS_REGION'])
    master = json.loads(secrets.get_secret_value(SecretId=env['MASTER_SECRET_ARN'])['SecretString'])
    with open(env['SQL_FILE']) as f:
        sql = f.read()
    connection = psycopg2.connect(host=env['DB_HOST'], port=int(env['DB_PORT']), dbname=env['DB_NAME'], user=master['username'],
                                  password=master['password'], sslmode='verify-full', sslrootcert=env['PGSSLROOTCERT'], connect_timeout=10)
    try:
        with connection:  # one transaction: committed whole, or not at all
            with connection.cursor() as cursor:
                cursor.execute(sql)
    finally:
        connection.close()
    print('role %s is ready' % env['DB_USER'], flush=True)


if __name__ == '__main__':
    command = sys.argv[1] if len(sys.argv) > 1 else ''
    if command == 'token':
        token(os.environ)
    elif command == 'check':
        sys.exit(check(os.environ))
    elif command == 'bootstrap':
        bootstrap(os.environ)
    else:
        raise SystemExit('usage: registry_db.py token|check|bootstrap')
`;

/** Where the RDS CA bundle comes from that verifies the registry database's certificate (`PGSSLMODE=verify-full`). */
export abstract class DatabaseCaBundle {
  /**
   * Downloaded when a pod starts, from the RDS trust store of the platform's region
   * (`https://truststore.pki.rds.amazonaws.com/<region>/<region>-bundle.pem`, RDS user guide
   * "Certificate bundles by AWS Region"), over HTTPS verified by the image's own CA store. The pods
   * need egress on port 443, which they have for S3 and Secrets Manager.
   */
  public static download(): DatabaseCaBundle {
    return new (class extends DatabaseCaBundle {
      public readonly pem = undefined;
      public url(region: string): string {
        return `https://truststore.pki.rds.amazonaws.com/${region}/${region}-bundle.pem`;
      }
    })();
  }

  /**
   * A PEM bundle you supply (the regional or global bundle, kept in your repository and reviewed):
   * written into a ConfigMap beside the server; nothing is downloaded.
   */
  public static fromPem(pem: string): DatabaseCaBundle {
    return new (class extends DatabaseCaBundle {
      public readonly pem = pem;
      public url(): undefined {
        return undefined;
      }
    })();
  }

  /** The PEM text, when supplied. */
  public abstract readonly pem?: string;
  /** @internal */
  public abstract url(region: string): string | undefined;
}
