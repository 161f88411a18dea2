/**
 * The feature server's read gate: NGINX in front of `feast serve`, which besides reads
 * (`POST /get-online-features`) serves writes and jobs to whoever reaches it (`/push`,
 * `/write-to-online-store`, `/materialize`, `/materialize-incremental`, feast/feature_server.py). With a
 * Redis online store the server holds a token that may write, so a consumer could overwrite the features
 * every other consumer scores with. Only the read and the health check pass; everything else is refused
 * here, and the materializer writes the online store directly.
 */

import { NGINX_MAIN_CONTEXT, NGINX_TEMP_PATHS } from '../core/nginx';

/** The port consumers call (the Service's): the gate's. */
export const FEATURE_GATE_PORT = 6566;
/** The port `feast serve` listens on behind the gate; no NetworkPolicy admits it. */
export const FEAST_LOCAL_PORT = 6567;

/** The NGINX configuration of the gate (unprivileged image, read-only root filesystem: all it writes is under /tmp). */
export function featureGateConfig(listenPort = FEATURE_GATE_PORT, upstreamPort = FEAST_LOCAL_PORT): string {
  // `location =` matches the URI as NGINX normalised it (decoded, dot segments resolved, slashes merged); the
  // upstream gets that path, never the raw one, so no spelling of another path reaches the server.
  const pass = (path: string, method: string) => `location = ${path} {
      limit_except ${method} { deny all; }
      proxy_pass http://127.0.0.1:${upstreamPort}${path};
      proxy_set_header Host $host;
    }`;
  return `${NGINX_MAIN_CONTEXT}
http {
${NGINX_TEMP_PATHS}
  access_log off;
  server_tokens off;
  client_max_body_size 1m;
  server {
    listen ${listenPort};
    default_type application/json;
    ${pass('/get-online-features', 'POST')}
    ${pass('/health', 'GET')}
    location / {
      return 403 '{"detail":"this feature server serves reads only (POST /get-online-features); the online store is written by the feature store\\'s materializer"}';
    }
  }
}
`;
}
