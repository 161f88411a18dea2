import { imageReference, IMAGES } from '../core/images';
import { ServerMetrics } from './metrics';

/** A port a model server opens. */
export interface ServerPort {
  readonly name: string;
  readonly port: number;
}

/** An HTTP check of the server. */
export interface HttpCheck {
  readonly path: string;
  /** The name of the port (one of the server's ports). */
  readonly port: string;
}

/** Props of a model server preset. */
export interface ModelServerProps {
  /** A short name for labels and docs. */
  readonly name: string;
  /** The image, pinned. */
  readonly image: string;
  /** @default - the image's entrypoint */
  readonly command?: string[];
  /** Arguments; `{{MODEL_DIR}}` (`/models/<model>`), `{{MODEL_REPOSITORY}}` (`/models`) and `{{MODEL_NAME}}` are replaced. @default - none */
  readonly args?: string[];
  /** Environment; values may use `{{MODEL_DIR}}` and `{{MODEL_NAME}}`. @default - none */
  readonly env?: Record<string, string>;
  /** Ports; the first is the one clients call. */
  readonly ports: ServerPort[];
  /**
   * The paths of the inference API (exact paths; `{{MODEL_NAME}}` is replaced), the only ones an
   * endpoint's Ingress routes: a server's control APIs (model load/unload, repository, shared memory,
   * logging, tracing) stay unreachable from outside the cluster.
   * @default - none: an endpoint with an Ingress then fails synth, asking for them
   */
  readonly inferencePaths?: string[];
  readonly liveness: HttpCheck;
  readonly readiness: HttpCheck;
  /** Where Prometheus scrapes. */
  readonly metricsEndpoint: HttpCheck;
  readonly metrics: ServerMetrics;
  /**
   * How the model gets to the server: an init container that downloads the registered version
   * from the registry into `{{MODEL_DIR}}`, or the server loading the `models:/` URI itself.
   * @default 'init-container'
   */
  readonly loading?: 'init-container' | 'native';
  /** Seconds the server may take to load a model before liveness checks start. @default 600 */
  readonly startupSeconds?: number;
  /**
   * Configuration files, by file name, that the endpoint writes into a ConfigMap and mounts
   * read-only at `/etc/model-server` (`SERVER_CONFIG_DIR`); contents may use the placeholders of `args`.
   * @default - none
   */
  readonly configFiles?: Record<string, string>;
  /**
   * Directories the server writes to (metrics, logs, environments). The root filesystem is
   * read-only: the endpoint mounts an empty, writable volume at each (besides `/tmp`).
   * @default - none
   */
  readonly writablePaths?: string[];
}

/** The environment variable holding the pod's UID, which every model server container gets. */
export const POD_UID_ENV = 'MLOPS_POD_UID';
/** Triton's APIs that only a caller with the admin header may use (never routed by an Ingress either). */
export const TRITON_RESTRICTED_APIS = 'model-repository,model-config,shared-memory,statistics,trace,logging';
/** The header that opens Triton's restricted APIs; its value is the pod's UID. */
export const TRITON_ADMIN_HEADER = 'triton-admin-key';

/** Where a server's configuration files (`configFiles`) are mounted. */
export const SERVER_CONFIG_DIR = '/etc/model-server';

/** The folder registered models are downloaded to (`/models/<model>`). */
export const MODEL_REPOSITORY = '/models';

/**
 * The model server an endpoint runs, as a typed choice: each preset knows its ports, health and
 * readiness paths, metrics and how it loads a model from the registry, so a user gives only the
 * model version.
 */
export class ModelServer {
  /**
   * NVIDIA Triton Inference Server. The registered artifact is a Triton model repository entry
   * (`config.pbtxt` and versions); latency comes from Triton's summaries (p50, p90, p95, p99).
   */
  public static triton(props: { readonly version?: string } = {}): ModelServer {
    return new ModelServer({
      name: 'triton',
      image: props.version === undefined ? imageReference(IMAGES.triton) : `${IMAGES.triton.repository}:${props.version}-py3`,
      command: ['tritonserver'],
      args: [
        '--model-repository={{MODEL_REPOSITORY}}', '--strict-readiness=true', '--exit-on-error=false', '--metrics-config=summary_latencies=true', '--allow-metrics=true',
        // Control APIs only with a header whose value is the pod's UID (the platform sends it nowhere; an
        // operator who may read the pod can): docs/customization_guide/inference_protocols.md,
        // "Limit Endpoint Access". Health, metadata and inference stay open for clients and probes.
        `--http-restricted-api=${TRITON_RESTRICTED_APIS}:${TRITON_ADMIN_HEADER}=$(${POD_UID_ENV})`,
        `--grpc-restricted-protocol=${TRITON_RESTRICTED_APIS}:${TRITON_ADMIN_HEADER}=$(${POD_UID_ENV})`,
      ],
      ports: [{ name: 'http', port: 8000 }, { name: 'grpc', port: 8001 }, { name: 'metrics', port: 8002 }],
      // KServe V2 protocol as Triton serves it (docs/protocol): infer, readiness and metadata of this model.
      inferencePaths: ['/v2/models/{{MODEL_NAME}}/infer', '/v2/models/{{MODEL_NAME}}/ready', '/v2/models/{{MODEL_NAME}}'],
      liveness: { path: '/v2/health/live', port: 'http' },
      readiness: { path: '/v2/health/ready', port: 'http' },
      metricsEndpoint: { path: '/metrics', port: 'metrics' },
      // docs/user_guide/metrics.md: counters per model (failures also per `reason`), latency
      // summaries with --metrics-config=summary_latencies=true.
      metrics: ServerMetrics.of({
        requests: ['nv_inference_request_success', 'nv_inference_request_failure'],
        failures: { metric: 'nv_inference_request_failure' },
        latencySummary: { metric: 'nv_inference_request_summary_us', toSeconds: 1e-6, quantiles: [0.5, 0.9, 0.95, 0.99] },
        others: ['nv_inference_count', 'nv_inference_queue_duration_us', 'nv_gpu_utilization', 'nv_gpu_memory_used_bytes'],
      }),
    });
  }

  /**
   * TorchServe. The registered artifact is a `.mar` archive. TorchServe exports request counts by
   * status class and total latency, but no latency distribution: quantile objectives and analyses
   * are refused at synth for it.
   */
  public static torchServe(props: { readonly version?: string; readonly gpu?: boolean } = {}): ModelServer {
    return new ModelServer({
      name: 'torchserve',
      image: props.version === undefined ? imageReference(props.gpu ? IMAGES.torchServeGpu : IMAGES.torchServeCpu) : `${IMAGES.torchServeCpu.repository}:${props.version}-${props.gpu ? 'gpu' : 'cpu'}`,
      command: ['torchserve'],
      // Our own config.properties: without it TorchServe reads the image's (management API on every
      // interface) and ignores TS_* variables unless that file sets enable_envvars_config=true.
      args: ['--start', '--foreground', `--ts-config=${SERVER_CONFIG_DIR}/config.properties`, '--disable-token-auth', '--model-store={{MODEL_DIR}}', '--models=all', '--ncs'],
      configFiles: {
        'config.properties': [
          'inference_address=http://0.0.0.0:8080',
          // Token authorization is off, so the management API listens on the loopback interface only.
          'management_address=http://127.0.0.1:8081',
          'metrics_address=http://0.0.0.0:8082',
          'metrics_mode=prometheus',
          'enable_envvars_config=false',
          'enable_model_api=false',
          '',
        ].join('\n'),
      },
      // Logs and log-mode metrics go under LOG_LOCATION and METRICS_LOCATION (default: ./logs, read-only);
      // TEMP (the image sets /home/model-server/tmp) holds the pid file, sockets and unpacked archives.
      env: { LOG_LOCATION: '/var/log/torchserve', METRICS_LOCATION: '/var/log/torchserve', TEMP: '/tmp' },
      writablePaths: ['/var/log/torchserve'],
      ports: [{ name: 'http', port: 8080 }, { name: 'metrics', port: 8082 }],
      // The inference API's prediction route (docs/inference_api.md); the management API is on loopback.
      inferencePaths: ['/predictions/{{MODEL_NAME}}'],
      liveness: { path: '/ping', port: 'http' },
      readiness: { path: '/ping', port: 'http' },
      metricsEndpoint: { path: '/metrics', port: 'metrics' },
      // Names as TorchServe 0.12 exports them (ts/configs/metrics.yaml, docs/metrics.md): Prometheus
      // simpleclient 0.9 adds no `_total`; Requests4XX and Requests5XX have no series before the first such response.
      metrics: ServerMetrics.of({
        requests: ['Requests2XX', 'Requests4XX', 'Requests5XX'],
        failures: { metric: 'Requests5XX' },
        others: ['ts_inference_requests_total', 'ts_inference_latency_microseconds', 'ts_queue_latency_microseconds', 'QueueTime', 'WorkerThreadTime'],
      }),
    });
  }

  /**
   * An MLflow model (any flavour) served by MLServer's MLflow runtime, with the V2 inference
   * protocol. Latency is a histogram (`rest_server_request_duration_seconds`).
   */
  public static mlflow(props: { readonly version?: string } = {}): ModelServer {
    return new ModelServer({
      name: 'mlflow',
      image: props.version === undefined ? imageReference(IMAGES.mlserverMlflow) : `${IMAGES.mlserverMlflow.repository}:${props.version}`,
      command: ['mlserver', 'start', '{{MODEL_DIR}}'],
      env: {
        MLSERVER_MODEL_NAME: '{{MODEL_NAME}}', MLSERVER_MODEL_IMPLEMENTATION: 'mlserver_mlflow.MLflowRuntime',
        MLSERVER_MODEL_URI: '{{MODEL_DIR}}', MLSERVER_HTTP_PORT: '8080', MLSERVER_GRPC_PORT: '8081', MLSERVER_METRICS_PORT: '8082',
        // MLServer creates both under the working directory by default (settings.py: `.metrics`,
        // `.envs`), which the read-only root filesystem forbids.
        MLSERVER_METRICS_DIR: '/var/lib/mlserver/metrics', MLSERVER_ENVIRONMENTS_DIR: '/var/lib/mlserver/envs',
      },
      writablePaths: ['/var/lib/mlserver/metrics', '/var/lib/mlserver/envs'],
      ports: [{ name: 'http', port: 8080 }, { name: 'grpc', port: 8081 }, { name: 'metrics', port: 8082 }],
      // V2 inference of this model and the MLflow runtime's /invocations (mlserver_mlflow: custom endpoint);
      // never /v2/repository/models/*/load|unload (the model repository extension).
      inferencePaths: ['/v2/models/{{MODEL_NAME}}/infer', '/v2/models/{{MODEL_NAME}}/ready', '/v2/models/{{MODEL_NAME}}', '/invocations'],
      liveness: { path: '/v2/health/live', port: 'http' },
      readiness: { path: '/v2/health/ready', port: 'http' },
      metricsEndpoint: { path: '/metrics', port: 'metrics' },
      // REST metrics from starlette_exporter with MLServer's `rest_server` prefix (one series per
      // status code, created on its first response); MLServer's own counters are exported by
      // prometheus_client with `_total` (mlserver/handlers/dataplane.py).
      metrics: ServerMetrics.of({
        requests: ['rest_server_requests_total'],
        failures: { metric: 'rest_server_requests_total', matcher: 'status_code=~"5.."' },
        latencyHistogram: { metric: 'rest_server_request_duration_seconds' },
        others: ['model_infer_request_success_total', 'model_infer_request_failure_total', 'model_infer_request_duration_count', 'model_infer_request_duration_sum'],
      }),
    });
  }

  /**
   * A KServe-compatible runtime (the KServe Python model server, e.g. `kserve/sklearnserver`):
   * V2 health endpoints and the `request_predict_seconds` histogram; it counts no failures, so error
   * ratios are refused for it unless given as custom metrics.
   */
  public static kserveRuntime(props: { readonly image: string }): ModelServer {
    return new ModelServer({
      name: 'kserve',
      image: props.image,
      args: ['--model_name={{MODEL_NAME}}', '--model_dir={{MODEL_DIR}}', '--http_port=8080'],
      ports: [{ name: 'http', port: 8080 }],
      // KServe's V1 predict and V2 infer routes for this model (kserve/protocol/rest).
      inferencePaths: ['/v1/models/{{MODEL_NAME}}:predict', '/v2/models/{{MODEL_NAME}}/infer'],
      liveness: { path: '/v2/health/live', port: 'http' },
      readiness: { path: '/v2/health/ready', port: 'http' },
      metricsEndpoint: { path: '/metrics', port: 'http' },
      metrics: ServerMetrics.of({
        requests: ['request_predict_seconds_count'],
        latencyHistogram: { metric: 'request_predict_seconds' },
        others: ['request_preprocess_seconds_bucket', 'request_postprocess_seconds_bucket'],
      }),
    });
  }

  /** Any server: its image, ports, checks and metrics. */
  public static custom(props: ModelServerProps): ModelServer {
    return new ModelServer(props);
  }

  private constructor(public readonly props: ModelServerProps) {}

  public get name(): string {
    return this.props.name;
  }

  public get metrics(): ServerMetrics {
    return this.props.metrics;
  }

  /** The port clients call. */
  public get servingPort(): ServerPort {
    return this.props.ports[0];
  }

  /** A port by name. */
  public port(name: string): ServerPort | undefined {
    return this.props.ports.find((p) => p.name === name);
  }

  /** The paths an Ingress routes to the server, for one model; empty when the server declares none. */
  public inferencePaths(modelName: string): string[] {
    return (this.props.inferencePaths ?? []).map((p) => p.split('{{MODEL_NAME}}').join(modelName));
  }

  /** This server with another image (a mirror, a digest). */
  public withImage(image: string): ModelServer {
    return new ModelServer({ ...this.props, image });
  }
}
