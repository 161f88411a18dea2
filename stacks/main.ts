// The app `cdktf synth` runs (compiled: node lib/stacks/main.js): Terraform JSON in cdktf.out/,
// Kubernetes manifests in k8s.out/.
import { PlatformApp } from '../src';
import { buildReferencePlatform, REFERENCE_CONTEXT } from './platform';

const app = new PlatformApp({ platform: REFERENCE_CONTEXT });
buildReferencePlatform(app);
app.synth();
