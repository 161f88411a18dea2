// The app `npm run synth` runs (compiled: node lib/stacks/main.js), as does `cdktf synth` through
// cdktf.json: Terraform JSON in cdktf.out/, Kubernetes manifests in k8s.out/.
import { runApp } from './entry';
import { buildReferencePlatform, REFERENCE_CONTEXT } from './platform';

process.exitCode = runApp(REFERENCE_CONTEXT, buildReferencePlatform);
