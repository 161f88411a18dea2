// The promotion gate in front of the MLflow server. MLflow's own permissions are per model (EDIT
// covers every alias), so training and promotion could not be told apart inside MLflow. The server
// listens only for its own pod's sidecars; an NGINX sidecar serves two ports:
//   - the API port (5000), for every client: all of MLflow, except that moving or deleting a
//     protected alias (champion) is refused by the gate below;
//   - the promotion port (5003), which the NetworkPolicy opens only to the promoter namespaces.

/** The port MLflow itself listens on (no NetworkPolicy admits it: only the pod's sidecars and the kubelet's probes reach it). */
export const MLFLOW_LOCAL_PORT = 5001;
/** The gate's port (likewise admitted by no NetworkPolicy). */
export const GATE_PORT = 5002;
/** The port of promotions. */
export const PROMOTION_PORT = 5003;

/** NGINX configuration of the sidecar (unprivileged, read-only root filesystem: everything writable under /tmp). */
export function nginxConfig(apiPort: number): string {
  return `worker_processes 1;
pid /tmp/nginx.pid;
error_log /dev/stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path /tmp/client_body;
  proxy_temp_path /tmp/proxy;
  fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi;
  scgi_temp_path /tmp/scgi;
  client_max_body_size 0;
  proxy_request_buffering off;
  proxy_read_timeout 600s;
  server {
    listen ${apiPort};
    location ~ ^/(ajax-)?api/2\\.0/mlflow/registered-models/alias$ { proxy_pass http://127.0.0.1:${GATE_PORT}; }
    location / { proxy_pass http://127.0.0.1:${MLFLOW_LOCAL_PORT}; }
  }
  server {
    listen ${PROMOTION_PORT};
    location / { proxy_pass http://127.0.0.1:${MLFLOW_LOCAL_PORT}; }
  }
}
`;
}

/** The gate: refuses to set or delete a protected alias, relays every other alias change to MLflow. */
export const ALIAS_GATE_SCRIPT = `
import json, os, urllib.error, urllib.parse, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = os.environ["UPSTREAM"]
PROTECTED = {a for a in os.environ["PROTECTED_ALIASES"].split(",") if a}

class Gate(BaseHTTPRequestHandler):
    def send(self, status, data, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def relay(self, body):
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization")}
        request = urllib.request.Request(UPSTREAM + self.path, data=body, method=self.command, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                self.send(response.status, response.read(), response.headers.get("Content-Type", "application/json"))
        except urllib.error.HTTPError as error:
            self.send(error.code, error.read(), error.headers.get("Content-Type", "application/json"))

    def alias(self, body):
        try:
            named = json.loads(body or b"{}").get("alias")
        except ValueError:
            named = None
        return named or urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query).get("alias", [None])[0]

    def change(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        alias = self.alias(body)
        if alias is None or alias in PROTECTED:
            message = f"alias {alias!r} is moved only through the promotion endpoint" if alias else "an alias change must name its alias"
            return self.send(403, json.dumps({"error_code": "PERMISSION_DENIED", "message": message}).encode())
        self.relay(body)

    do_POST = do_DELETE = do_PATCH = change

    def do_GET(self):
        if self.path == "/healthz":
            return self.send(200, b"ok", "text/plain")
        self.relay(None)

    def log_message(self, *args):
        pass

ThreadingHTTPServer((os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "${GATE_PORT}"))), Gate).serve_forever()
`;
