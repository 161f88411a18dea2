import { finding, PlatformCheck, PlatformFinding } from '../check';
import { BUILT_IN_NAMESPACES, PlatformModel, PodTemplate } from '../model';

type Level = 'privileged' | 'baseline' | 'restricted';

/** Capabilities baseline lets a container add (policy/check_capabilities_baseline.go). */
const BASELINE_CAPABILITIES = ['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'];
/** Safe sysctls (policy/check_sysctls.go), as of v1.29 (ip_local_reserved_ports since 1.27, the tcp_* since 1.29). */
const SAFE_SYSCTLS = ['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes'];
/** SELinux types baseline allows (policy/check_seLinuxOptions.go). */
const SELINUX_TYPES = ['', 'container_t', 'container_init_t', 'container_kvm_t'];
/** Volume types restricted allows (policy/check_restrictedVolumes.go). */
const RESTRICTED_VOLUMES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
const ENFORCE = 'pod-security.kubernetes.io/enforce';

/** A container of a pod as it will be created, with who put it there. */
interface PodContainer {
  readonly name: string;
  readonly securityContext: any;
  readonly ports?: any[];
  /** Set for containers a controller adds to the pod. */
  readonly injectedBy?: string;
}

/**
 * The containers of the pods a template makes, including those a controller injects: Argo Workflows
 * adds an `init` init container and a `wait` container to every pod of a container or script
 * template, with the securityContext of the controller's `executor` configuration
 * (argo-workflows `workflow/controller/workflowpod.go`, `newExecContainer`), which the argo-workflows
 * chart renders from its `executor.securityContext` value.
 */
export function podContainers(model: PlatformModel, t: PodTemplate): PodContainer[] {
  const own: PodContainer[] = [...(t.spec?.initContainers ?? []), ...(t.spec?.containers ?? [])]
    .map((c: any) => ({ name: c.name, securityContext: c.securityContext, ports: c.ports }));
  if (t.controller !== 'argo-workflows') return own;
  const executor = model.helmRelease('argo-workflows')?.values?.executor?.securityContext;
  const securityContext = executor && Object.keys(executor).length > 0 ? executor : undefined;
  const by = 'Argo Workflows (executor.securityContext of the argo-workflows release)';
  return [{ name: 'init', securityContext, injectedBy: by }, { name: 'wait', securityContext, injectedBy: by }, ...own];
}

/** What Pod Security admission at `level` refuses in a pod (empty when it admits it). */
export function podSecurityViolations(level: Level, spec: any, containers: PodContainer[]): string[] {
  if (level === 'privileged') return [];
  const out: string[] = [];
  const pod = spec?.securityContext ?? {};
  const named = (c: PodContainer) => `container '${c.name}'${c.injectedBy ? ` (injected by ${c.injectedBy})` : ''}`;
  // Baseline (policy/check_hostNamespaces.go, check_privileged.go, check_capabilities_baseline.go, check_hostPathVolumes.go,
  // check_hostPorts.go, check_appArmorProfile.go, check_seLinuxOptions.go, check_procMount.go, check_seccompProfile_baseline.go,
  // check_sysctls.go, check_windowsHostProcess.go).
  for (const f of ['hostNetwork', 'hostPID', 'hostIPC']) if (spec?.[f] === true) out.push(`${f}=true (host namespaces)`);
  for (const v of spec?.volumes ?? []) if (v.hostPath) out.push(`volume '${v.name}' is a hostPath volume`);
  for (const s of pod.sysctls ?? []) if (!SAFE_SYSCTLS.includes(s.name)) out.push(`sysctl ${s.name} is not a safe sysctl`);
  const selinux = (where: string, o: any) => {
    if (!o) return;
    if (!SELINUX_TYPES.includes(o.type ?? '')) out.push(`${where} sets seLinuxOptions.type=${o.type}`);
    if (o.user) out.push(`${where} sets seLinuxOptions.user`);
    if (o.role) out.push(`${where} sets seLinuxOptions.role`);
  };
  selinux('the pod', pod.seLinuxOptions);
  if (pod.seccompProfile?.type === 'Unconfined') out.push('the pod sets seccompProfile.type=Unconfined');
  if (pod.appArmorProfile?.type === 'Unconfined') out.push('the pod sets appArmorProfile.type=Unconfined');
  if (pod.windowsOptions?.hostProcess === true) out.push('the pod sets windowsOptions.hostProcess=true');
  for (const c of containers) {
    const sc = c.securityContext ?? {};
    if (sc.privileged === true) out.push(`${named(c)} is privileged`);
    const bad = (sc.capabilities?.add ?? []).filter((cap: string) => !BASELINE_CAPABILITIES.includes(cap));
    if (bad.length) out.push(`${named(c)} adds capabilities ${bad.join(', ')}`);
    for (const p of c.ports ?? []) if (p.hostPort) out.push(`${named(c)} uses hostPort ${p.hostPort}`);
    selinux(named(c), sc.seLinuxOptions);
    if (sc.procMount !== undefined && sc.procMount !== 'Default') out.push(`${named(c)} sets procMount=${sc.procMount}`);
    if (sc.seccompProfile?.type === 'Unconfined') out.push(`${named(c)} sets seccompProfile.type=Unconfined`);
    if (sc.appArmorProfile?.type === 'Unconfined') out.push(`${named(c)} sets appArmorProfile.type=Unconfined`);
    if (sc.windowsOptions?.hostProcess === true) out.push(`${named(c)} sets windowsOptions.hostProcess=true`);
  }
  if (level === 'baseline') return out;

  // Restricted (policy/check_restrictedVolumes.go, check_allowPrivilegeEscalation.go, check_runAsNonRoot.go,
  // check_runAsUser.go, check_seccompProfile_restricted.go, check_capabilities_restricted.go): a container's
  // setting overrides the pod's, and a container that sets nothing takes the pod's.
  for (const v of spec?.volumes ?? []) {
    const type = Object.keys(v).find((k) => k !== 'name');
    if (type && type !== 'hostPath' && !RESTRICTED_VOLUMES.includes(type)) out.push(`volume '${v.name}' has restricted type ${type}`);
  }
  if (pod.runAsNonRoot === false) out.push('the pod sets runAsNonRoot=false');
  if (pod.runAsUser === 0) out.push('the pod sets runAsUser=0');
  const podSeccomp = ['RuntimeDefault', 'Localhost'].includes(pod.seccompProfile?.type);
  for (const c of containers) {
    const sc = c.securityContext ?? {};
    if (sc.allowPrivilegeEscalation !== false) out.push(`${named(c)} must set allowPrivilegeEscalation=false`);
    if (sc.runAsNonRoot === false) out.push(`${named(c)} sets runAsNonRoot=false`);
    else if (sc.runAsNonRoot === undefined && pod.runAsNonRoot !== true) out.push(`the pod or ${named(c)} must set runAsNonRoot=true`);
    if (sc.runAsUser === 0) out.push(`${named(c)} sets runAsUser=0`);
    if (sc.seccompProfile?.type !== undefined) {
      if (!['RuntimeDefault', 'Localhost'].includes(sc.seccompProfile.type)) out.push(`${named(c)} sets seccompProfile.type=${sc.seccompProfile.type}`);
    } else if (!podSeccomp) {
      out.push(`the pod or ${named(c)} must set seccompProfile.type to RuntimeDefault or Localhost`);
    }
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) out.push(`${named(c)} must drop ALL capabilities`);
    const added = (sc.capabilities?.add ?? []).filter((cap: string) => cap !== 'NET_BIND_SERVICE');
    if (added.length) out.push(`${named(c)} may add only NET_BIND_SERVICE, not ${added.join(', ')}`);
  }
  return [...new Set(out)];
}

/**
 * Every pod the platform will run, including the containers a controller injects, meets the Pod
 * Security Standard its namespace enforces (`pod-security.kubernetes.io/enforce`).
 *
 * Upstream: Pod Security admission (kubernetes/pod-security-admission `policy/check_*.go`, e.g.
 * `check_runAsNonRoot.go`, `check_seccompProfile_restricted.go`, `check_capabilities_restricted.go`,
 * `check_allowPrivilegeEscalation.go`, `check_restrictedVolumes.go`, `check_capabilities_baseline.go`,
 * `check_sysctls.go`, `check_seLinuxOptions.go`; https://kubernetes.io/docs/concepts/security/pod-security-standards/).
 * It checks the pod a controller creates, so a Deployment is accepted but its pods are refused; Argo
 * Workflows' executor containers come from argo-workflows `workflow/controller/workflowpod.go`.
 */
export const podSecurityCheck: PlatformCheck = {
  id: 'pod-security',
  description: 'Every pod template, with the containers its controller injects, meets the Pod Security level its namespace enforces.',
  upstream: 'kubernetes/pod-security-admission policy/check_*.go; argo-workflows workflow/controller/workflowpod.go (executor containers)',
  check(model: PlatformModel): PlatformFinding[] {
    const out: PlatformFinding[] = [];
    const namespaces = model.namespaces();
    for (const t of model.podTemplates()) {
      if (BUILT_IN_NAMESPACES.includes(t.namespace)) continue;
      const level = namespaces.get(t.namespace)?.labels?.[ENFORCE] as Level | undefined;
      // A namespace without a level is the namespaces check's finding.
      if (level !== 'baseline' && level !== 'restricted') continue;
      const containers = podContainers(model, t);
      const violations = podSecurityViolations(level, t.spec, containers);
      if (violations.length === 0) continue;
      const injected = containers.some((c) => c.injectedBy) && violations.some((v) => v.includes('injected by'));
      out.push(finding('pod-security', t.source,
        `Pod Security admission (namespace '${t.namespace}', enforce=${level}) refuses its pods${t.template ? ` (template '${t.template}')` : ''}: ${violations.join('; ')}.`,
        injected
          ? 'Give the executor a restricted securityContext in the argo-workflows release values (executor.securityContext, as Addon.argoWorkflows() does).'
          : `Meet the ${level} level (restrictedContainerSecurityContext() and restrictedPodSecurityContext()), or run the workload in a namespace of a lower level with a reason: PlatformNamespaces.use(scope, namespace, { podSecurity, reason }).`));
    }
    return out;
  },
};
