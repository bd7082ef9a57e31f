package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CheckOperatorIdentity installs the RBAC and admission policy of an install's manifests (the
// kustomize or Helm output) on a fresh control plane, then acts as the operator's
// ServiceAccount: it must not read Secrets, touch ConfigMaps outside its namespace, or write a
// Service or ConfigMap it did not create; it may write the objects it does create.
func CheckOperatorIdentity(t *testing.T, objs []*unstructured.Unstructured, opNamespace, serviceAccount string) {
	t.Helper()
	env, err := Start(false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	admin, err := client.New(env.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	obj := func(apiVersion, kind, ns, name string, labels map[string]any, extra map[string]any) *unstructured.Unstructured {
		meta := map[string]any{"name": name}
		if ns != "" {
			meta["namespace"] = ns
		}
		if labels != nil {
			meta["labels"] = labels
		}
		o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta}
		for k, v := range extra {
			o[k] = v
		}
		return &unstructured.Unstructured{Object: o}
	}
	for _, ns := range []string{opNamespace, "tenant-x"} {
		if err := admin.Create(ctx, obj("v1", "Namespace", "", ns, nil, nil)); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	installed := map[string]bool{"ServiceAccount": true, "ClusterRole": true, "ClusterRoleBinding": true, "Role": true, "RoleBinding": true,
		"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true}
	for _, o := range objs {
		if installed[o.GetKind()] {
			if err := admin.Create(ctx, o.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatalf("installing %s %s: %v", o.GetKind(), o.GetName(), err)
			}
		}
	}
	// What an attacker holding the operator's token would go for.
	svcSpec := map[string]any{"spec": map[string]any{"selector": map[string]any{"app": "web"}, "ports": []any{map[string]any{"port": int64(80)}}}}
	for _, o := range []*unstructured.Unstructured{
		obj("v1", "Secret", "kube-system", "cloud-credentials", nil, map[string]any{"stringData": map[string]any{"key": "secret"}}),
		obj("v1", "ConfigMap", "kube-system", "aws-auth", nil, map[string]any{"data": map[string]any{"mapRoles": "[]"}}),
		obj("v1", "ConfigMap", opNamespace, "someone-elses", nil, map[string]any{"data": map[string]any{"a": "b"}}),
		obj("v1", "Service", "tenant-x", "web", nil, svcSpec),
	} {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: fmt.Sprintf("system:serviceaccount:%s:%s", opNamespace, serviceAccount),
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + opNamespace, "system:authenticated"},
	}
	as, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	managed := map[string]any{"app.kubernetes.io/managed-by": "inference-exposure-operator"}
	dry := client.DryRunAll

	// RBAC and the admission policy take a moment to load: wait for what must be refused.
	refused := func(what string, do func() error) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := do()
			if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("the operator's identity may %s (err %v)", what, err)
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	refused("read Secrets in kube-system", func() error {
		return as.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "cloud-credentials"}, obj("v1", "Secret", "", "", nil, nil))
	})
	refused("patch kube-system/aws-auth", func() error {
		return as.Patch(ctx, obj("v1", "ConfigMap", "kube-system", "aws-auth", nil, nil), client.RawPatch("application/merge-patch+json", []byte(`{"data":{"mapRoles":"- system:masters"}}`)), dry)
	})
	refused("repoint a Service it did not create", func() error {
		return as.Patch(ctx, obj("v1", "Service", "tenant-x", "web", nil, nil), client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"selector":{"app":"attacker"}}}`)), dry)
	})
	refused("label itself into a Service it did not create", func() error {
		return as.Patch(ctx, obj("v1", "Service", "tenant-x", "web", nil, nil), client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"labels":{"app.kubernetes.io/managed-by":"inference-exposure-operator"}}}`)), dry)
	})
	refused("delete a Service it did not create", func() error {
		return as.Delete(ctx, obj("v1", "Service", "tenant-x", "web", nil, nil), dry)
	})
	refused("rewrite a ConfigMap it did not create in its own namespace", func() error {
		return as.Patch(ctx, obj("v1", "ConfigMap", opNamespace, "someone-elses", nil, nil), client.RawPatch("application/merge-patch+json", []byte(`{"data":{"a":"c"}}`)), dry)
	})

	// What it does need still works.
	for what, o := range map[string]*unstructured.Unstructured{
		"create an exposure's Service": obj("v1", "Service", "tenant-x", "triton", managed, svcSpec),
		"create its HAProxy ConfigMap": obj("v1", "ConfigMap", opNamespace, "inference-exposure-haproxy", managed, map[string]any{"data": map[string]any{"00-global.cfg": "global\n"}}),
		"create an exposure's Ingress": obj("networking.k8s.io/v1", "Ingress", "tenant-x", "triton", managed, map[string]any{"spec": map[string]any{"ingressClassName": "nginx", "rules": []any{map[string]any{"host": "triton.example.com"}}}}),
	} {
		if err := as.Create(ctx, o, dry); err != nil {
			t.Errorf("the operator's identity may not %s: %v", what, err)
		}
	}
}
