/**
 * NGINX as the library's sidecars run it: the unprivileged image (uid 101) with a read-only root
 * filesystem, so the pid file and every temporary file live under the `/tmp` emptyDir.
 */

/** The main context: one worker, pid under /tmp, errors to stderr. */
export const NGINX_MAIN_CONTEXT = `worker_processes 1;
pid /tmp/nginx.pid;
error_log /dev/stderr warn;
events { worker_connections 1024; }`;

/** The `http` context's temporary paths, all under /tmp (indented for the `http` block). */
export const NGINX_TEMP_PATHS = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
  .map((p) => `  ${p}_temp_path /tmp/${p};`).join('\n');
