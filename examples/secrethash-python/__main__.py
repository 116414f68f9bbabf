import pulumi, pulumi_kubernetes as k8s, pulumi_sophia as sophia
data = {"API_KEY": pulumi.Config().require_secret("apiKey")}
secret = k8s.core.v1.Secret("app", string_data=data)
hash_ = sophia.SecretHash("app", data=data, scope="default/app")
labels = {"app": "app"}  # the hash on the pod template: rotating API_KEY rolls exactly this Deployment
k8s.apps.v1.Deployment("app", spec={"selector": {"match_labels": labels}, "template": {
    "metadata": {"labels": labels, "annotations": {"sophia.dev/secret-hash": hash_.hash}},
    "spec": {"containers": [{"name": "app", "image": "nginx", "env_from": [{"secret_ref": {"name": secret.metadata.name}}]}]}}})
