/**
 * The one catalog of the container images the library runs by default.
 *
 * Every entry is pinned by digest (`repository:tag@sha256:...`; the tag stays beside the digest for
 * people, the runtime pulls the digest). No registry is reachable from where this library is built,
 * so each digest was taken from public material that shows the same `repository:tag` with that
 * digest, named in `source`. An entry without a digest says why in `unpinnedReason`: synth accepts
 * it by tag and the platform check reports it as an exception, until a digest is pinned.
 *
 * To run your own copies (a mirror or your platform's ECR repositories, e.g. `ghcr.io/mlflow/mlflow`
 * built with what the platform needs), pass the image props of the constructs (`server.image`,
 * `governance.proxyImage`, `ModelServer.withImage(...)`, `server.image` of a FeatureStore, the GPU
 * cluster's `images`), each pinned by digest.
 */

/** One default image of the library. */
export interface CatalogImage {
  /** The repository, with its registry (`nvcr.io/nvidia/tritonserver`). */
  readonly repository: string;
  /** The tag, for people; the runtime pulls `digest` when it is set. */
  readonly tag: string;
  /** `sha256:<64 hex>`: the manifest (list) digest of `repository:tag`. */
  readonly digest?: string;
  /** Where that digest was seen with the same `repository:tag` (public repository and path). */
  readonly source: string;
  /** Why the image is pinned by tag only (no digest could be verified), when `digest` is unset. */
  readonly unpinnedReason?: string;
}

/** The reference the pod spec carries: `repository:tag@digest`, or `repository:tag` without a digest. */
export function imageReference(image: CatalogImage): string {
  return image.digest ? `${image.repository}:${image.tag}@${image.digest}` : `${image.repository}:${image.tag}`;
}

/** The default images, by what they run. */
export const IMAGES = {
  /**
   * MLflow server, pipeline steps, retraining trigger, promotion step and the serving init containers
   * that download models. MLflow's official `ghcr.io/mlflow/mlflow:v3.14.0` lacks psycopg2 and boto3
   * (its `-full` variant has them), and no digest of `ghcr.io/mlflow/mlflow:v3.14.0-full` could be
   * verified from public material, so the default stays the community image (burakince/mlflow, a
   * single maintainer's build of MLflow with boto3 and psycopg2) pinned by digest. To run the
   * official image, build `ImageRecipe.mlflow()` (the official image plus psycopg2 and boto3) into the
   * platform's ECR with PlatformImageBuilds and pass `image('mlflow')` as `server.image` of the ModelRegistry.
   */
  mlflow: {
    repository: 'burakince/mlflow',
    tag: '3.14.0',
    digest: 'sha256:d66a486309adb1fd84fd4d1d6b11c1ecc90632e04372205b92bbc15d2196f418',
    source: 'RoshmiB/Mlops-cicd-kserve-argo-dvc README.md: `kubectl describe pod` on EKS shows `Image: burakince/mlflow:3.14.0`, `Image ID: docker.io/burakince/mlflow@sha256:d66a4863...` (the digest the kubelet pulled)',
  },
  /** The registry gate's NGINX sidecar (unprivileged build: uid 101, port 8080). */
  nginxUnprivileged: {
    repository: 'nginxinc/nginx-unprivileged',
    tag: '1.27.5-alpine',
    digest: 'sha256:65e3e85dbaed8ba248841d9d58a899b6197106c23cb0ff1a132b7bfe0547e4c0',
    source: 'the same `nginxinc/nginx-unprivileged:1.27.5-alpine@sha256:65e3e85d...` in several independent public Dockerfiles, scripts and image inventories (public code index: files 68675298094, 61044541875, 67470510967, 68981892491, 68867928078)',
  },
  /** NVIDIA Triton Inference Server (26.01: CVE-2025-23310/23311 and the 23319/23320/23334 chain are fixed from 25.07). Needs NVIDIA driver 575 or later (CUDA 13.1). */
  triton: {
    repository: 'nvcr.io/nvidia/tritonserver',
    tag: '26.01-py3',
    digest: 'sha256:c9f2ede50ccc4a3ce66e22e26ed1b5adc0c68516b58edfaca738693719c2146b',
    source: 'a public GPU runtime runbook (docs/engineering/gpu_runtime_admin_steps.md of an RTX 5080 serving project; public code index file 70192258407) that pulled `nvcr.io/nvidia/tritonserver:26.01-py3@sha256:c9f2ede5...` (Triton 2.65.0, CUDA 13.1.1) and ran it',
  },
  /** MLServer with its MLflow runtime (`mlserver_mlflow.MLflowRuntime`), the `-mlflow` build. */
  mlserverMlflow: {
    repository: 'seldonio/mlserver',
    tag: '1.7.1-mlflow',
    digest: 'sha256:492c8bbac687b148ad81a57278368f0aaaa2b3f72b09302419258d36058fe000',
    source: 'a public predictor Dockerfile (a taxi-fare MLOps project; public code index file 62836740552) pinning `FROM docker.io/seldonio/mlserver:1.7.1-mlflow@sha256:492c8bba...` by tag and digest, built and run against it',
  },
  /** TorchServe, CPU build. */
  torchServeCpu: {
    repository: 'pytorch/torchserve',
    tag: '0.12.0-cpu',
    source: 'hub.docker.com/r/pytorch/torchserve (tag only)',
    unpinnedReason: 'no public source shows the digest of pytorch/torchserve:0.12.0-cpu; pin it with ModelServer.torchServe().withImage(\'<repo>:<tag>@sha256:...\')',
  },
  /** TorchServe, GPU build. */
  torchServeGpu: {
    repository: 'pytorch/torchserve',
    tag: '0.12.0-gpu',
    source: 'hub.docker.com/r/pytorch/torchserve (tag only)',
    unpinnedReason: 'no public source shows the digest of pytorch/torchserve:0.12.0-gpu; pin it with ModelServer.torchServe({ gpu: true }).withImage(\'<repo>:<tag>@sha256:...\')',
  },
  /** The Feast feature server (`feast serve`), as the feast-feature-server chart pins it. */
  feast: {
    repository: 'quay.io/feastdev/feature-server',
    tag: '0.50.0',
    source: 'feast-dev/feast infra/charts/feast-feature-server/values.yaml (tag only)',
    unpinnedReason: 'no public source shows the digest of quay.io/feastdev/feature-server:0.50.0; build ImageRecipe.feastFeatureServer() with PlatformImageBuilds, or pass server.image by digest, to pin it',
  },
  /** The NVIDIA device plugin DaemonSet of the GPU nodes. */
  devicePlugin: {
    repository: 'nvcr.io/nvidia/k8s-device-plugin',
    tag: 'v0.17.0',
    digest: 'sha256:7089559ce6153018806857f5049085bae15b3bf6f1c8bd19d8b12f707d087dea',
    source: 'kubernetes/minikube pkg/minikube/assets/addons.go (nvidia-device-plugin addon: `nvidia/k8s-device-plugin:v0.17.0@sha256:7089559c...` on registry nvcr.io)',
  },
  /**
   * The NVIDIA DCGM exporter DaemonSet (GPU metrics) of the GPU nodes: the distroless build the NVIDIA GPU
   * Operator v26.3.3 ships (configured by environment only, as the DaemonSet does).
   */
  dcgmExporter: {
    repository: 'nvcr.io/nvidia/k8s/dcgm-exporter',
    tag: '4.5.3-4.8.2-distroless',
    digest: 'sha256:e9030b4fca0c8f110032f3b151b030e7e9db56604b407cf79631e1a3218b35e0',
    source: 'an offline GPU Operator v26.3.3 bundle\'s image lock (public code index file 59207126919) listing `nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless@sha256:e9030b4f...` beside the operator\'s own pinned images',
  },
} satisfies Record<string, CatalogImage>;

/** The catalog's images that are pinned by tag only, with the reason, by reference. */
export function unpinnedCatalogImages(): Map<string, string> {
  const out = new Map<string, string>();
  for (const image of Object.values(IMAGES) as CatalogImage[]) {
    if (!image.digest && image.unpinnedReason) out.set(imageReference(image), image.unpinnedReason);
  }
  return out;
}

/** Whether an image reference is pinned by digest (`...@sha256:<64 lower-case hex>`). */
export function isDigestPinned(image: string): boolean {
  return /^[^\s@]+@sha256:[0-9a-f]{64}$/.test(image);
}
