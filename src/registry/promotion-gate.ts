// The registry gate in front of the MLflow server. MLflow's own permissions are per model (EDIT
// covers every alias, tag and version), so training and promotion could not be told apart inside
// MLflow. The server listens only for its own pod's sidecars; an NGINX sidecar serves two ports:
//   - the API port (5000), for every client: all of MLflow's reads and writes, except that the calls
//     that undo what the registry keeps (moving or deleting a protected alias, deleting or renaming
//     a registered model, deleting a model version, setting or deleting a lineage tag) are refused;
//   - the promotion port (5003), which the NetworkPolicy opens only to the promoter namespaces.
// Every registry call (registered-models/*, model-versions/*) on either port goes through the gate
// (python, below), which knows the caller (HTTP basic credentials, one per workload), decides, writes
// an audit record and relays to MLflow on the path it decided on. Every other call is let through by
// NGINX only after the gate has checked the caller's credentials (auth_request).
//
// Paths: MLflow registers every REST endpoint twice, `/api/<since>.0<path>` and
// `/ajax-api/<since>.0<path>` (mlflow/server/handlers.py `_get_paths`); the registry's endpoints are
// all under `/mlflow/registered-models/` and `/mlflow/model-versions/` (model_registry.proto). NGINX
// matches locations on the decoded, slash-merged, dot-resolved URI, but passes the client's raw URI
// upstream; so the gate decodes and merges the raw URI the way the server stack does (uvicorn decodes
// %XX once, werkzeug's merge_slashes redirects `//` to `/`), matches case-insensitively, and relays
// the path it decided on, never the raw one.

import { NGINX_MAIN_CONTEXT, NGINX_TEMP_PATHS } from '../core/nginx';

/** The port MLflow itself listens on (no NetworkPolicy admits it: only the pod's sidecars and the kubelet's probes reach it). */
export const MLFLOW_LOCAL_PORT = 5001;
/** The gate's port (likewise admitted by no NetworkPolicy). */
export const GATE_PORT = 5002;
/** The port of promotions. */
export const PROMOTION_PORT = 5003;
/** The tag prefix of lineage: written once, with the version (create-model-version), then only read. */
export const LINEAGE_TAG_PREFIX = 'mlops.lineage.';

/** NGINX configuration of the sidecar (unprivileged, read-only root filesystem: everything writable under /tmp). */
export function nginxConfig(apiPort: number): string {
  // A registry call as NGINX sees it (decoded, slashes merged): sent to the gate whole.
  const registry = '~* ^/+(ajax-)?api/+[^/]+/+mlflow/+(registered-models|model-versions)(/|$)';
  // proxy_set_header replaces a header of the same name that the client sent: a client cannot claim a port.
  const gate = (port: string) => `proxy_pass http://127.0.0.1:${GATE_PORT};
      proxy_set_header X-Gate-Port ${port};
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Request-Id $request_id;`;
  const identity = (port: string) => `location = /_identity {
      internal;
      proxy_pass http://127.0.0.1:${GATE_PORT}/_identity;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Gate-Port ${port};
      proxy_set_header X-Request-Id $request_id;
    }
    location @unauthenticated {
      default_type application/json;
      add_header WWW-Authenticate 'Basic realm="mlflow"' always;
      return 401 '{"error_code":"UNAUTHENTICATED","message":"the registry needs the credentials of a workload (MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD)"}';
    }
    location @denied {
      default_type application/json;
      return 403 '{"error_code":"PERMISSION_DENIED","message":"the registry gate refused this call: this workload may not make it on this port"}';
    }`;
  const rest = `location / {
      auth_request /_identity;
      auth_request_set $registry_user $upstream_http_x_registry_user;
      error_page 401 = @unauthenticated;
      error_page 403 = @denied;
      proxy_pass http://127.0.0.1:${MLFLOW_LOCAL_PORT};
    }`;
  return `${NGINX_MAIN_CONTEXT}
http {
  # Every call that may change something, on either port, as one JSON line on stdout; registry
  # changes are also recorded by the gate, with the model, version, alias or tag they name.
  map $request_method $changes { GET 0; HEAD 0; OPTIONS 0; default 1; }
  log_format audit escape=json '{"time":"$time_iso8601","source":"gateway","port":"$server_port","client":"$remote_addr","user":"$registry_user$upstream_http_x_registry_user","method":"$request_method","uri":"$request_uri","status":"$status","request_id":"$request_id"}';
  access_log /dev/stdout audit if=$changes;
${NGINX_TEMP_PATHS}
  client_max_body_size 0;
  proxy_request_buffering off;
  proxy_read_timeout 600s;
  proxy_set_header X-Request-Id $request_id;
  server {
    listen ${apiPort};
    set $registry_user "";
    # Probes and Prometheus scrape without credentials; both only read.
    location = /health { proxy_pass http://127.0.0.1:${MLFLOW_LOCAL_PORT}; }
    location = /metrics { limit_except GET { deny all; } proxy_pass http://127.0.0.1:${MLFLOW_LOCAL_PORT}; }
    location ${registry} {
      ${gate('api')}
    }
    ${identity('api')}
    ${rest}
  }
  server {
    listen ${PROMOTION_PORT};
    set $registry_user "";
    location = /health { proxy_pass http://127.0.0.1:${MLFLOW_LOCAL_PORT}; }
    location ${registry} {
      ${gate('promotion')}
    }
    ${identity('promotion')}
    ${rest}
  }
}
`;
}

/**
 * The gate: knows the caller, refuses on the API port what only the promotion port may do, limits
 * each workload to its models and its access, records every registry change, relays the rest.
 */
export const REGISTRY_GATE_SCRIPT = `
import base64, datetime, hmac, json, os, posixpath, re, socket, sys, threading, urllib.error, urllib.parse, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = os.environ["UPSTREAM"]
PROTECTED = {a for a in os.environ["PROTECTED_ALIASES"].split(",") if a}
LINEAGE = os.environ.get("LINEAGE_TAG_PREFIX", "${LINEAGE_TAG_PREFIX}").lower()
USERS_FILE = os.environ.get("USERS_FILE")
CREDENTIALS_DIR = os.environ.get("CREDENTIALS_DIR", "/credentials")
LOG_GROUP = os.environ.get("AUDIT_LOG_GROUP")
REGISTRY = re.compile(r"^/(ajax-)?api/([^/]+)/mlflow/((registered-models|model-versions)(/.*)?)$", re.I)
# Calls that undo what the registry keeps: only on the promotion port.
PROMOTION_ONLY = {"registered-models/delete", "registered-models/rename", "model-versions/delete"}
LINEAGE_CALLS = {"model-versions/set-tag", "model-versions/delete-tag"}
# Registry calls that read, whatever their method (get-latest-versions is a POST).
READS = {"registered-models/get-latest-versions"}
# Calls that move artifact content with the server's own S3 rights (mlflow/server/__init__.py and
# handlers.py routes: get-artifact, model-versions/get-artifact, upload-artifact, get-trace-artifact,
# artifacts/list, and the mlflow-artifacts proxy). With ARTIFACTS=direct no workload makes them (they use
# S3 with their own role, scoped to their model), so a workload cannot read or write another model's
# artifacts through the server; people without a workload grant may read (the UI), never write.
ARTIFACT_CALLS = re.compile(r"^/((ajax-)?api/[^/]+/mlflow-artifacts(/.*)?|(model-versions/)?get-artifact|ajax-api/[^/]+/mlflow/(upload-artifact|get-trace-artifact|artifacts/list))$", re.I)
DIRECT_ARTIFACTS = os.environ.get("ARTIFACTS", "direct") == "direct"
# Other MLflow calls that read with a POST.
READ_POSTS = re.compile(r"^/((ajax-)?api/[^/]+/mlflow/(runs/search|experiments/search|logged-models/search|datasets/search)|graphql)$", re.I)

cloudwatch, stream, lock, stdout_lock = None, None, threading.Lock(), threading.Lock()
if LOG_GROUP:
    import boto3
    cloudwatch = boto3.client("logs")
    # One stream per start of the gate: a restarted container (same pod name, same pid) gets a new one.
    stream = f"{socket.gethostname()}/{datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%S.%fZ')}"
    cloudwatch.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)

def audit(record):
    """One JSON line on stdout and, when a log group is given, in CloudWatch Logs; False if it could not be written."""
    line = json.dumps(record, sort_keys=True)
    # One write per record, one writer at a time: print() writes the line and its newline separately, so two
    # request threads could interleave into one line that no log reader can parse.
    with stdout_lock:
        sys.stdout.write(line + "\\n")
        sys.stdout.flush()
    if cloudwatch is None:
        return True
    try:
        with lock:
            cloudwatch.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream,
                logEvents=[{"timestamp": int(datetime.datetime.now().timestamp() * 1000), "message": line}])
        return True
    except Exception as error:
        print(json.dumps({"audit_error": str(error)}), file=sys.stderr, flush=True)
        return False

def canonical(raw):
    """The path the server routes: decoded once (uvicorn), slashes merged (werkzeug), dot segments resolved (nginx)."""
    path = urllib.parse.unquote(raw.split("?", 1)[0].split("#", 1)[0])
    path = posixpath.normpath("/" + re.sub("/+", "/", path))
    return re.sub("/+", "/", path)

def users():
    if not USERS_FILE:
        return None
    with open(USERS_FILE) as f:
        return json.load(f)

def password_of(user):
    try:
        with open(os.path.join(CREDENTIALS_DIR, user)) as f:
            return f.read().strip()
    except OSError:
        return None

class Gate(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def send(self, status, data, content_type="application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def deny(self, status, message, user=None):
        code = "UNAUTHENTICATED" if status == 401 else "PERMISSION_DENIED"
        headers = {"WWW-Authenticate": 'Basic realm="mlflow"'} if status == 401 else {}
        if user:
            headers["X-Registry-User"] = user
        return self.send(status, json.dumps({"error_code": code, "message": message}).encode(), headers=headers)

    def caller(self):
        """(user, grant) for valid credentials; (None, None) for none or wrong ones; ("-", None) when identity is off."""
        table = users()
        if table is None:
            return "-", None
        header = self.headers.get("Authorization") or ""
        if not header.lower().startswith("basic "):
            return None, None
        try:
            user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        except Exception:
            return None, None
        expected = password_of(user) if user in table else None
        if expected is None or not hmac.compare_digest(password.encode(), expected.encode()):
            return None, None
        return user, table[user]

    def port(self):
        return "promotion" if self.headers.get("X-Gate-Port") == "promotion" else "api"

    def fields(self, body):
        """Every value a field may take: MLflow reads the query of a GET and the JSON body of anything else; both are read here."""
        values = {}
        for key, items in urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query, keep_blank_values=True).items():
            values.setdefault(key, []).extend(items)
        if body:
            data = json.loads(body)
            if isinstance(data, str):  # older clients double-encode (handlers.py _get_request_message)
                data = json.loads(data)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            for key, value in data.items():
                values.setdefault(key, []).append(value)
        return values

    def decide(self, call, method, fields, grant, user):
        """None to relay, or the reason to refuse."""
        port = self.port()
        reads = method in ("GET", "HEAD") or call in READS
        if port == "api":
            if call in PROMOTION_ONLY:
                return f"{call} is done only through the promotion endpoint"
            if call in LINEAGE_CALLS:
                keys = [str(k) for k in fields.get("key", [])]
                if not keys or any(k.lower().startswith(LINEAGE) for k in keys):
                    return f"lineage tags ({LINEAGE}*) are written with the version and then only read; this is done only through the promotion endpoint"
            if call == "registered-models/alias" and not reads:
                aliases = [str(a) for a in fields.get("alias", [])]
                if not aliases:
                    return "an alias change must name its alias"
                for alias in aliases:
                    if alias in PROTECTED or alias.lower() in {p.lower() for p in PROTECTED}:
                        return f"alias {alias!r} is moved only through the promotion endpoint"
        if grant is None:
            return None
        role, models = grant.get("role"), set(grant.get("models", []))
        if port == "promotion" and role != "promote":
            return f"{user} may not use the promotion endpoint"
        if role == "read" and not reads:
            return f"{user} may only read the registry"
        if role != "promote":
            names = [str(n) for n in fields.get("name", [])]
            for name in names:
                if name not in models:
                    return f"{user} may not use model {name!r}; it may use {', '.join(sorted(models)) or 'no model'}"
            if not names and not reads:
                return "a registry change must name its model"
        return None

    def registry(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        method = self.command
        path = canonical(self.path)
        match = REGISTRY.match(path)
        user, grant = self.caller()
        if user is None:
            return self.deny(401, "the registry needs the credentials of a workload (MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD)")
        if not match:
            return self.deny(403, "not a registry call", user)
        call = match.group(3).lower().rstrip("/")
        changes = not (method in ("GET", "HEAD") or call in READS)
        try:
            fields = self.fields(body)
        except ValueError:
            fields = None
        reason = "the request body is not a JSON object" if fields is None else self.decide(call, method, fields, grant, user)
        record = None
        if changes or reason:
            record = {
                "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
                "source": "registry-gate", "port": self.port(), "user": user,
                "client": self.headers.get("X-Real-IP") or self.client_address[0],
                "request_id": self.headers.get("X-Request-Id"),
                "method": method, "call": call, "path": self.path,
                "decision": "refused" if reason else "allowed",
            }
            for key in ("name", "new_name", "version", "alias", "key", "value"):
                if fields and key in fields:
                    record[key] = fields[key][0] if len(fields[key]) == 1 else fields[key]
            if fields and "tags" in fields:
                record["tags"] = fields["tags"][0]
            if reason:
                record["reason"] = reason
            if not audit(record) and not reason:
                return self.deny(403, "the registry could not record this change, so it is not made", user)
        if reason:
            return self.deny(403, reason, user)
        # Relay on the path that was decided on, never on the client's spelling of it.
        query = urllib.parse.urlsplit(self.path).query
        status = self.relay(method, path + ("?" + query if query else ""), body, user)
        if record is not None:
            audit({**record, "decision": "done", "status": status})

    def relay(self, method, target, body, user):
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "x-request-id")}
        request = urllib.request.Request(UPSTREAM + target, data=body if method not in ("GET", "HEAD") else None, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, data, kind = response.status, response.read(), response.headers.get("Content-Type", "application/json")
        except urllib.error.HTTPError as error:
            status, data, kind = error.code, error.read(), error.headers.get("Content-Type", "application/json")
        except (urllib.error.URLError, OSError):
            status, data, kind = 502, b'{"error_code":"TEMPORARILY_UNAVAILABLE","message":"the registry server did not answer"}', "application/json"
        self.send(status, data, kind, {"X-Registry-User": user})
        return status

    def identity(self):
        """auth_request of every non-registry call: valid credentials; read-only workloads only read."""
        user, grant = self.caller()
        if user is None:
            return self.send(401, b"", headers={"WWW-Authenticate": 'Basic realm="mlflow"'})
        original = self.headers.get("X-Original-URI") or "/"
        if REGISTRY.match(canonical(original)):
            return self.send(403, b"", headers={"X-Registry-User": user})  # the registry is served by the gate only
        method = self.headers.get("X-Original-Method") or "GET"
        reads = method in ("GET", "HEAD", "OPTIONS") or READ_POSTS.match(canonical(original))
        if DIRECT_ARTIFACTS and ARTIFACT_CALLS.match(canonical(original)) and (grant is not None or not reads):
            return self.send(403, b"", headers={"X-Registry-User": user})
        if grant is not None and grant.get("role") == "read" and not reads:
            return self.send(403, b"", headers={"X-Registry-User": user})
        if self.port() == "promotion" and grant is not None and grant.get("role") != "promote":
            return self.send(403, b"", headers={"X-Registry-User": user})
        return self.send(200, b"", headers={"X-Registry-User": user})

    def handle_any(self):
        if self.path == "/healthz":
            return self.send(200, b"ok", "text/plain")
        if self.path == "/_identity":  # NGINX's auth_request, whatever the method of the call it checks
            return self.identity()
        self.registry()

    do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = handle_any

    def log_message(self, *args):
        pass

class Server(ThreadingHTTPServer):
    # The listen backlog: socketserver's default of 5 drops connections when NGINX sends a burst of calls.
    request_queue_size = 128

Server((os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "${GATE_PORT}"))), Gate).serve_forever()
`;
