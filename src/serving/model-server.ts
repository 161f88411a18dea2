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
}

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
      image: `nvcr.io/nvidia/tritonserver:${props.version ?? '25.01'}-py3`,
      command: ['tritonserver'],
      args: ['--model-repository={{MODEL_REPOSITORY}}', '--strict-readiness=true', '--exit-on-error=false', '--metrics-config=summary_latencies=true', '--allow-metrics=true'],
      ports: [{ name: 'http', port: 8000 }, { name: 'grpc', port: 8001 }, { name: 'metrics', port: 8002 }],
      liveness: { path: '/v2/health/live', port: 'http' },
      readiness: { path: '/v2/health/ready', port: 'http' },
      metricsEndpoint: { path: '/metrics', port: 'metrics' },
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
      image: `pytorch/torchserve:${props.version ?? '0.12.0'}-${props.gpu ? 'gpu' : 'cpu'}`,
      command: ['torchserve'],
      args: ['--start', '--foreground', '--disable-token-auth', '--model-store={{MODEL_DIR}}', '--models=all', '--ncs'],
      env: { TS_METRICS_MODE: 'prometheus', TS_INFERENCE_ADDRESS: 'http://0.0.0.0:8080', TS_MANAGEMENT_ADDRESS: 'http://127.0.0.1:8081', TS_METRICS_ADDRESS: 'http://0.0.0.0:8082' },
      ports: [{ name: 'http', port: 8080 }, { name: 'metrics', port: 8082 }],
      liveness: { path: '/ping', port: 'http' },
      readiness: { path: '/ping', port: 'http' },
      metricsEndpoint: { path: '/metrics', port: 'metrics' },
      metrics: ServerMetrics.of({
        requests: ['Requests2XX', 'Requests4XX', 'Requests5XX'],
        failures: { metric: 'Requests5XX' },
        others: ['ts_inference_requests_total', 'ts_inference_latency_microseconds', 'ts_queue_latency_microseconds'],
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
      image: `seldonio/mlserver:${props.version ?? '1.6.1'}`,
      command: ['mlserver', 'start', '{{MODEL_DIR}}'],
      env: {
        MLSERVER_MODEL_NAME: '{{MODEL_NAME}}', MLSERVER_MODEL_IMPLEMENTATION: 'mlserver_mlflow.MLflowRuntime',
        MLSERVER_MODEL_URI: '{{MODEL_DIR}}', MLSERVER_HTTP_PORT: '8080', MLSERVER_GRPC_PORT: '8081', MLSERVER_METRICS_PORT: '8082',
      },
      ports: [{ name: 'http', port: 8080 }, { name: 'grpc', port: 8081 }, { name: 'metrics', port: 8082 }],
      liveness: { path: '/v2/health/live', port: 'http' },
      readiness: { path: '/v2/health/ready', port: 'http' },
      metricsEndpoint: { path: '/metrics', port: 'metrics' },
      metrics: ServerMetrics.of({
        requests: ['rest_server_requests_total'],
        failures: { metric: 'rest_server_requests_total', matcher: 'status_code=~"5.."' },
        latencyHistogram: { metric: 'rest_server_request_duration_seconds' },
        others: ['model_infer_request_success', 'model_infer_request_failure'],
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

  /** This server with another image (a mirror, a digest). */
  public withImage(image: string): ModelServer {
    return new ModelServer({ ...this.props, image });
  }
}
