// Python the pipeline's steps run (in the registry's MLflow image: python 3, mlflow, boto3, pandas,
// pyarrow). They are small on purpose: each reads its inputs from the environment, prints what it
// decided, and exits non-zero to stop the run.

/** Lists the data prefix, pins its version (a hash of keys and object versions) and runs the checks. */
export const VALIDATE_SCRIPT = `
import hashlib, io, json, os, sys
import boto3, pandas as pd

bucket, prefix = os.environ["DATA_BUCKET"], os.environ["DATA_PREFIX"]
checks = json.loads(os.environ["DATA_CHECKS"])
# The model's experiment keeps its artifacts under the model's prefix: the only one the pipeline's role
# (and the model's endpoints' roles) may use. MLflow would create it under the server's default root.
location = os.environ.get("ARTIFACT_LOCATION")
if location:
    from mlflow.tracking import MlflowClient
    name, client = os.environ["MLFLOW_EXPERIMENT_NAME"], MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        client.create_experiment(name, artifact_location=location)
    elif experiment.artifact_location.rstrip("/") != location.rstrip("/"):
        sys.exit(f"experiment {name} keeps its artifacts at {experiment.artifact_location}, not at {location}, "
                 "the only prefix the pipeline may write: rename that experiment and run again")
s3 = boto3.client("s3")
objects = []
for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
    objects += [o for o in page.get("Versions", []) if o["IsLatest"] and not o["Key"].endswith("/")]
if not objects:
    sys.exit(f"no data under s3://{bucket}/{prefix}")
manifest = sorted((o["Key"], o["VersionId"], o["ETag"]) for o in objects)
version = hashlib.sha256(json.dumps(manifest).encode()).hexdigest()[:40]
frames = []
for key, version_id, _ in manifest:
    body = s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)["Body"].read()
    frames.append(pd.read_parquet(io.BytesIO(body)) if key.endswith(".parquet") else pd.read_csv(io.BytesIO(body)))
data = pd.concat(frames, ignore_index=True)
kinds = {"number": pd.api.types.is_numeric_dtype, "string": pd.api.types.is_string_dtype,
         "bool": pd.api.types.is_bool_dtype, "datetime": pd.api.types.is_datetime64_any_dtype}
failures = []
for c in checks:
    col = c.get("column")
    if col is not None and col not in data.columns:
        failures.append(f"column {col} is missing"); continue
    if c["kind"] == "type" and not kinds[c["type"]](data[col]):
        failures.append(f"column {col} is {data[col].dtype}, not {c['type']}")
    if c["kind"] == "null-rate" and data[col].isna().mean() > c["max"]:
        failures.append(f"column {col} is {data[col].isna().mean():.4f} null, above {c['max']}")
    if c["kind"] == "range":
        lo, hi = data[col].min(), data[col].max()
        if ("min" in c and lo < c["min"]) or ("max" in c and hi > c["max"]):
            failures.append(f"column {col} spans [{lo}, {hi}], outside [{c.get('min')}, {c.get('max')}]")
    if c["kind"] == "min-rows" and len(data) < c["min"]:
        failures.append(f"{len(data)} rows, fewer than {c['min']}")
os.makedirs("/tmp/outputs", exist_ok=True)
open("/tmp/outputs/data-version", "w").write(version)
json.dump(manifest, open("/tmp/outputs/data-manifest.json", "w"))
if failures:
    sys.exit("data validation failed: " + "; ".join(failures))
print(f"data {version}: {len(data)} rows passed {len(checks)} checks")
`;

/**
 * Compares the candidate with the champion and the floors, and checks the fairness gates on the
 * evaluation's per-group report (CANDIDATE_GROUPS, the contract of GROUP_REPORT_FILE); prints "passed" (and
 * nothing else on stdout: the register task's `when` reads it) or exits 1 with the reasons. Writes each
 * fairness gate's result to /tmp/outputs/fairness.json, `{ "<tag>": "<JSON result>" }`, for registration.
 */
export const GATE_SCRIPT = `
import json, math, os, sys

gates = json.loads(os.environ["GATES"])
def number(raw):
    try:
        value = float(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) or math.isinf(value) else value
def metric(role, name):
    return number(os.environ.get(f"{role}_{name}".upper().replace("-", "_"), "none"))
def group_report():
    try:
        report = json.loads(os.environ.get("CANDIDATE_GROUPS") or "{}")
    except ValueError:
        return None
    return report.get("groups") if isinstance(report, dict) and isinstance(report.get("groups"), dict) else None

failures, fairness = [], {}
for g in gates:
    if g["kind"].startswith("fairness"):
        m, attribute = g["metric"], g["groups"]
        table = (group_report() or {}).get(attribute)
        if not isinstance(table, dict) or not table:
            failures.append(f"the evaluation reported no groups of {attribute} (for {m})"); continue
        values, small, missing = {}, [], []
        for name, row in sorted(table.items()):
            row = row if isinstance(row, dict) else {}
            count, value = number(row.get("count")), number(row.get(m))
            if count is None or count < g["min_count"]:
                small.append((name, f"{attribute}={name} ({'no' if count is None else int(count)} examples)"))
            elif value is None:
                missing.append(f"{attribute}={name}")
            else:
                values[name] = value
        problems = []
        if missing:
            problems.append(f"the evaluation reported no {m} for {', '.join(missing)}")
        if small and g["small_groups"] == "fail":
            problems.append(f"{', '.join(t for _, t in small)} {'has' if len(small) == 1 else 'have'} fewer than {g['min_count']} examples: {m} cannot be trusted")
        elif small:
            print(f"insufficient: {', '.join(t for _, t in small)} left out of the {m} gate (fewer than {g['min_count']} examples)", file=sys.stderr)
        result = {"kind": g["kind"], "metric": m, "groups": attribute, "values": values,
                  "insufficient": [n for n, _ in small]}
        if g["kind"] == "fairness-group-floor":
            if not values:
                problems.append(f"no group of {attribute} has {g['min_count']} examples to check {m} against the floor {g['min']}")
            for name, value in values.items():
                if value < g["min"]:
                    problems.append(f"{m} of {attribute}={name} is {value}, under the group floor {g['min']}")
            if values:
                worst = min(values, key=values.get)
                result.update(value=values[worst], worst=worst, limit=g["min"])
        else:
            if len(values) < 2:
                problems.append(f"{m} by {attribute} needs two groups with at least {g['min_count']} examples to compare; {len(values)} {'has' if len(values) == 1 else 'have'}")
            else:
                best, worst = max(values, key=values.get), min(values, key=values.get)
                hi, lo = values[best], values[worst]
                if g["kind"] == "fairness-max-disparity":
                    gap = round(hi - lo, 12)
                    result.update(value=gap, best=best, worst=worst, limit=g["max"])
                    if gap > g["max"]:
                        problems.append(f"{m} differs by {gap:.4f} between {attribute}={best} ({hi}) and {attribute}={worst} ({lo}), above the allowed {g['max']}")
                else:
                    ratio = 1.0 if hi == 0 else round(lo / hi, 12)
                    result.update(value=ratio, best=best, worst=worst, limit=g["min"])
                    if ratio < g["min"]:
                        problems.append(f"{m} of {attribute}={worst} ({lo}) is {ratio:.4f} of {attribute}={best}'s ({hi}), under the allowed ratio {g['min']}")
        result["passed"] = not problems
        failures += problems
        text = json.dumps(result, sort_keys=True, separators=(",", ":"))
        if len(text) > 5000:  # an MLflow model-version tag holds 5000 characters: keep the verdict, drop the per-group values
            text = json.dumps({k: v for k, v in result.items() if k != "values"}, sort_keys=True, separators=(",", ":"))
        fairness[g["tag"]] = text
        continue
    candidate = metric("candidate", g["metric"])
    if candidate is None:
        failures.append(f"the evaluation reported no {g['metric']} for the candidate"); continue
    if g["kind"] == "at-least" and candidate < g["value"]:
        failures.append(f"{g['metric']} {candidate} is under the floor {g['value']}")
    if g["kind"] == "at-most" and candidate > g["value"]:
        failures.append(f"{g['metric']} {candidate} is above the ceiling {g['value']}")
    if g["kind"] in ("better-than-champion", "lower-than-champion"):
        champion = metric("champion", g["metric"])
        if champion is None:
            continue  # no champion yet: the first version is compared with the floors only
        better = candidate - champion >= g["min_delta"] if g["kind"] == "better-than-champion" else champion - candidate >= g["min_delta"]
        if not better:
            failures.append(f"{g['metric']} {candidate} is not better than the champion's {champion} by {g['min_delta']}")
outputs = os.environ.get("OUTPUTS_DIR", "/tmp/outputs")
os.makedirs(outputs, exist_ok=True)
json.dump(fairness, open(os.path.join(outputs, "fairness.json"), "w"), sort_keys=True)
if failures:
    print("rejected: " + "; ".join(dict.fromkeys(failures)), file=sys.stderr)
    sys.exit(1)
print("passed")
`;

/** Registers the candidate run's model with its lineage and metrics, as a candidate (optionally staging). */
export const REGISTER_SCRIPT = `
import json, os
import mlflow
from mlflow import MlflowClient

name, run_id = os.environ["MODEL_NAME"], os.environ["RUN_ID"]
client = MlflowClient()
version = mlflow.register_model(f"runs:/{run_id}/model", name, tags=json.loads(os.environ["LINEAGE_TAGS"])).version
for key, value in json.loads(os.environ["METRIC_TAGS"]).items():
    client.set_model_version_tag(name, version, key, value)
for key, value in json.loads(os.environ.get("FAIRNESS_TAGS") or "{}").items():
    client.set_model_version_tag(name, version, key, value)
client.set_registered_model_alias(name, "candidate", version)
if os.environ.get("PROMOTE_TO"):
    client.set_registered_model_alias(name, os.environ["PROMOTE_TO"], version)
print(f"registered {name} version {version}")
`;

/**
 * The trigger service: long-polls the new-data queue and serves the retraining webhook that
 * Alertmanager calls; each starts the pipeline's WorkflowTemplate with the trigger recorded.
 */
export const TRIGGER_SCRIPT = `
import hmac, json, os, ssl, threading, time, urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

NAMESPACE, TEMPLATE = os.environ["NAMESPACE"], os.environ["WORKFLOW_TEMPLATE"]
TOKEN = os.environ.get("SA_TOKEN_FILE", "/var/run/secrets/kubernetes.io/serviceaccount/token")
CA = os.environ.get("SA_CA_FILE", "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")
API = os.environ.get("KUBERNETES_API", "https://kubernetes.default.svc") + f"/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/workflows"
# Alertmanager sends it as "Authorization: Bearer <token>" (http_config.authorization); without a token
# configured the webhook refuses every call.
WEBHOOK_TOKEN = os.environ.get("WEBHOOK_TOKEN", "")

def submit(trigger, detail):
    body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"generateName": f"{TEMPLATE}-", "labels": {"mlops.io/trigger": trigger}},
            "spec": {"workflowTemplateRef": {"name": TEMPLATE},
                     "arguments": {"parameters": [{"name": "trigger", "value": trigger}, {"name": "trigger-detail", "value": detail[:250]}]}}}
    request = urllib.request.Request(API, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": "Bearer " + open(TOKEN).read(), "Content-Type": "application/json"})
    context = ssl.create_default_context(cafile=CA) if API.startswith("https:") else None
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        print(f"started a run for {trigger}: {response.status}", flush=True)

def poll_new_data():
    import boto3
    sqs = boto3.client("sqs")
    while True:
        messages = sqs.receive_message(QueueUrl=os.environ["QUEUE_URL"], WaitTimeSeconds=20, MaxNumberOfMessages=10).get("Messages", [])
        if messages:
            keys = [json.loads(m["Body"]).get("detail", {}).get("object", {}).get("key", "?") for m in messages]
            submit("new-data", ",".join(keys))
            for m in messages:
                sqs.delete_message(QueueUrl=os.environ["QUEUE_URL"], ReceiptHandle=m["ReceiptHandle"])

def authorized(header):
    scheme, _, token = (header or "").partition(" ")
    return bool(WEBHOOK_TOKEN) and scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), WEBHOOK_TOKEN.encode())

class Webhook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/retrain" and not authorized(self.headers.get("Authorization")):
            self.send_response(401); self.send_header("WWW-Authenticate", "Bearer"); self.end_headers()
            return
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            self.send_response(400); self.end_headers()
            return
        firing = [a["labels"].get("alertname", "?") for a in payload.get("alerts", []) if a.get("status") == "firing"]
        if self.path == "/retrain" and firing:
            submit("alert", ",".join(sorted(set(firing))))
        self.send_response(200 if self.path == "/retrain" else 404); self.end_headers()
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404); self.end_headers()

if os.environ.get("QUEUE_URL"):
    threading.Thread(target=poll_new_data, daemon=True).start()
HTTPServer((os.environ.get("HOST", ""), int(os.environ.get("PORT", "12000"))), Webhook).serve_forever()
`;
