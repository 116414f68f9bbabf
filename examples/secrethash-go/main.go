// Command secrethash-go is a Pulumi program that uses sophia the way another team would: it declares its own
// Kubernetes Secret and Deployment with the Kubernetes provider's Go SDK and a SecretHash with the generated sophia
// Go SDK (sdk/go), and puts the hash on the pod template, so rotating one key of the Secret rolls the Deployment.
// tests/e2e/sdk.sh builds it into a binary and runs it with the real Pulumi CLI.
package main

import (
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/sophia-secrets/sophia/sdk/go/sophia"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		cfg := config.New(ctx, "")
		apiKey := cfg.RequireSecret("apiKey")
		dbPassword := cfg.RequireSecret("dbPassword")

		var opts []pulumi.ResourceOption
		if dir := cfg.Get("renderDir"); dir != "" {
			k8s, err := kubernetes.NewProvider(ctx, "render", &kubernetes.ProviderArgs{
				RenderYamlToDirectory: pulumi.String(dir),
				EnableSecretMutable:   pulumi.Bool(true),
			})
			if err != nil {
				return err
			}
			opts = append(opts, pulumi.Provider(k8s))
		}

		data := pulumi.StringMap{"API_KEY": apiKey, "DB_PASSWORD": dbPassword}
		secret, err := corev1.NewSecret(ctx, "app", &corev1.SecretArgs{
			Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String("app"), Namespace: pulumi.String("default")},
			StringData: data,
		}, opts...)
		if err != nil {
			return err
		}
		hash, err := sophia.NewSecretHash(ctx, "app", &sophia.SecretHashArgs{
			Data:  data,
			Scope: pulumi.String("default/app"),
		})
		if err != nil {
			return err
		}

		labels := pulumi.StringMap{"app": pulumi.String("app")}
		_, err = appsv1.NewDeployment(ctx, "app", &appsv1.DeploymentArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("app"), Namespace: pulumi.String("default")},
			Spec: &appsv1.DeploymentSpecArgs{
				Selector: &metav1.LabelSelectorArgs{MatchLabels: labels},
				Template: &corev1.PodTemplateSpecArgs{
					Metadata: &metav1.ObjectMetaArgs{
						Labels:      labels,
						Annotations: pulumi.StringMap{"sophia.dev/secret-hash": hash.Hash},
					},
					Spec: &corev1.PodSpecArgs{
						Containers: corev1.ContainerArray{&corev1.ContainerArgs{
							Name:    pulumi.String("app"),
							Image:   pulumi.String("busybox:1.36"),
							EnvFrom: corev1.EnvFromSourceArray{&corev1.EnvFromSourceArgs{
								SecretRef: &corev1.SecretEnvSourceArgs{Name: secret.Metadata.Name()},
							}},
						}},
					},
				},
			},
		}, opts...)
		if err != nil {
			return err
		}
		ctx.Export("hash", hash.Hash)
		ctx.Export("keyHashes", hash.KeyHashes)
		return nil
	})
}
