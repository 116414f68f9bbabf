import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as sophia from "@sophia/sophia";
const data = { API_KEY: new pulumi.Config().requireSecret("apiKey") };
const secret = new k8s.core.v1.Secret("app", { stringData: data });
const hash = new sophia.SecretHash("app", { data, scope: "default/app" });
const labels = { app: "app" }; // the hash on the pod template: rotating API_KEY rolls exactly this Deployment
new k8s.apps.v1.Deployment("app", { spec: { selector: { matchLabels: labels }, template: {
  metadata: { labels, annotations: { "sophia.dev/secret-hash": hash.hash } },
  spec: { containers: [{ name: "app", image: "nginx", envFrom: [{ secretRef: { name: secret.metadata.name } }] }] } } } });
