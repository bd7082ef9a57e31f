package testenv

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
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
	// The CRDs: tenants the identity must not rewrite, routing kinds it must not write unowned.
	crds, err := CRDPaths()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: crds, ErrorIfPathMissing: true}); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{opNamespace, "tenant-x", "bystander"} {
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
		obj("exposure.inference.dev/v1alpha1", "InferenceTenant", "", "victim", nil, map[string]any{"spec": map[string]any{"namespaces": []any{"tenant-x"}}}),
		// tenant-x exposes a model; bystander exposes none.
		obj("exposure.inference.dev/v1alpha1", "InferenceExposure", "tenant-x", "triton", nil, map[string]any{"spec": map[string]any{
			"selector": map[string]any{"app": "triton"}, "ports": map[string]any{"http": int64(8000), "grpc": int64(8001)}}}),
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
			// Refused by RBAC or by a policy (a create refused by a policy may come as
			// Invalid); not by something else wrong with the object, which would prove nothing.
			if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) && strings.Contains(err.Error(), "ValidatingAdmissionPolicy") {
				t.Logf("%s: refused: %v", what, err)
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

	// Objects it creates carry its label and, in tenant namespaces, the exposure as controller.
	childIn := func(ns, apiVersion, kind, name string, extra map[string]any) *unstructured.Unstructured {
		o := obj(apiVersion, kind, ns, name, managed, extra)
		o.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "exposure.inference.dev/v1alpha1", Kind: "InferenceExposure", Name: name, UID: "0c1e0b1e-0000-4000-8000-000000000001", Controller: ptr.To(true)}})
		return o
	}
	child := func(apiVersion, kind, name string, extra map[string]any) *unstructured.Unstructured {
		return childIn("tenant-x", apiVersion, kind, name, extra)
	}
	eventOn := func(ns, apiVersion, kind string) *unstructured.Unstructured {
		return obj("v1", "Event", ns, "triton.0001", nil, map[string]any{"reason": "Test", "message": "test", "type": "Normal",
			"involvedObject": map[string]any{"apiVersion": apiVersion, "kind": kind, "namespace": ns, "name": "triton"}})
	}
	event := func(ns string) *unstructured.Unstructured {
		return eventOn(ns, "exposure.inference.dev/v1alpha1", "InferenceExposure")
	}
	serviceOf := func(spec map[string]any) map[string]any {
		s := map[string]any{"selector": map[string]any{"app": "web"}, "ports": []any{map[string]any{"port": int64(80)}}}
		for k, v := range spec {
			s[k] = v
		}
		return map[string]any{"spec": s}
	}
	for what, o := range map[string]*unstructured.Unstructured{
		"create a labelled Service that no exposure controls":   obj("v1", "Service", "tenant-x", "orphan", managed, serviceOf(nil)),
		"create an exposure's LoadBalancer Service":             child("v1", "Service", "lb", serviceOf(map[string]any{"type": "LoadBalancer"})),
		"create an exposure's Service with externalIPs":         child("v1", "Service", "xip", serviceOf(map[string]any{"externalIPs": []any{"203.0.113.7"}})),
		"create an exposure's ExternalName Service":             child("v1", "Service", "ext", map[string]any{"spec": map[string]any{"type": "ExternalName", "externalName": "db.example.com"}}),
		"create a labelled HTTPRoute that no exposure controls": obj("gateway.networking.k8s.io/v1", "HTTPRoute", "tenant-x", "orphan", managed, map[string]any{"spec": map[string]any{}}),
		"create an exposure's Service where no exposure lives":  childIn("bystander", "v1", "Service", "triton", serviceOf(nil)),
		"create an exposure's Service in kube-system":           childIn("kube-system", "v1", "Service", "triton", serviceOf(nil)),
		"create an Event about a Pod in kube-system":            eventOn("kube-system", "v1", "Pod"),
		"create an Event about a ConfigMap in kube-system":      eventOn("kube-system", "v1", "ConfigMap"),
		"create an exposure's Ingress where no exposure lives":  childIn("bystander", "networking.k8s.io/v1", "Ingress", "triton", map[string]any{"spec": map[string]any{"ingressClassName": "nginx", "rules": []any{map[string]any{"host": "triton.example.com"}}}}),
	} {
		refused(what, func() error { return as.Create(ctx, o, dry) })
	}
	if _, err := EnvoyGatewayCRD(); err == nil {
		refused("create a labelled BackendTrafficPolicy that no exposure controls", func() error {
			return as.Create(ctx, obj("gateway.envoyproxy.io/v1alpha1", "BackendTrafficPolicy", "tenant-x", "orphan", managed, map[string]any{"spec": map[string]any{
				"targetRefs": []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "web"}}}}), dry)
		})
	}
	if _, err := InferencePoolCRD(); err == nil {
		refused("create a labelled InferencePool that no exposure controls", func() error {
			return as.Create(ctx, obj("inference.networking.k8s.io/v1", "InferencePool", "tenant-x", "orphan", managed, map[string]any{"spec": map[string]any{
				"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}}, "targetPorts": []any{map[string]any{"number": int64(8000)}}}}), dry)
		})
		refused("create an exposure's InferencePool where no exposure lives", func() error {
			return as.Create(ctx, childIn("bystander", "inference.networking.k8s.io/v1", "InferencePool", "triton", map[string]any{"spec": map[string]any{
				"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}}, "targetPorts": []any{map[string]any{"number": int64(8000)}}}}), dry)
		})
	}
	listenerSet := func(owner bool) *unstructured.Unstructured {
		o := obj("gateway.networking.k8s.io/v1", "ListenerSet", "tenant-x", "victim", managed, map[string]any{"spec": map[string]any{
			"parentRef": map[string]any{"name": "shared", "namespace": "gateway-system"},
			"listeners": []any{map[string]any{"name": "https", "port": int64(443), "protocol": "HTTP"}}}})
		if owner {
			o.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "exposure.inference.dev/v1alpha1", Kind: "InferenceTenant", Name: "victim", UID: "0c1e0b1e-0000-4000-8000-000000000002", Controller: ptr.To(true)}})
		}
		return o
	}
	refused("create a labelled ListenerSet that no tenant controls", func() error { return as.Create(ctx, listenerSet(false), dry) })
	if _, err := PodMonitorCRD(); err == nil {
		refused("create a labelled PodMonitor that no exposure controls", func() error {
			return as.Create(ctx, obj("monitoring.coreos.com/v1", "PodMonitor", "tenant-x", "orphan", managed, map[string]any{"spec": map[string]any{
				"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}}, "podMetricsEndpoints": []any{map[string]any{"portNumber": int64(9090)}}}}), dry)
		})
	}
	refused("rewrite a tenant's spec", func() error {
		return as.Patch(ctx, obj("exposure.inference.dev/v1alpha1", "InferenceTenant", "", "victim", nil, nil), client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"namespaces":["tenant-x","kube-system"]}}`)), dry)
	})
	refused("label a tenant", func() error {
		return as.Patch(ctx, obj("exposure.inference.dev/v1alpha1", "InferenceTenant", "", "victim", nil, nil), client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"labels":{"a":"b"}}}`)), dry)
	})

	// The policies are loaded now (they refused the above). They bind only the operator: anyone
	// else still writes Services, Ingresses and Events where no exposure lives. (A binding whose
	// params are not found denies before the policy's matchConditions are evaluated: this once
	// refused every user's Service in such a namespace.)
	for what, o := range map[string]*unstructured.Unstructured{
		"a Service where no exposure lives":  obj("v1", "Service", "bystander", "web", nil, serviceOf(nil)),
		"a Service in kube-system":           obj("v1", "Service", "kube-system", "web", nil, serviceOf(nil)),
		"an Ingress where no exposure lives": obj("networking.k8s.io/v1", "Ingress", "bystander", "web", nil, map[string]any{"spec": map[string]any{"ingressClassName": "nginx", "rules": []any{map[string]any{"host": "web.example.com"}}}}),
		"an Event where no exposure lives":   eventOn("bystander", "v1", "Pod"),
		"a Helm-labelled Service":            obj("v1", "Service", "bystander", "helm", map[string]any{"app.kubernetes.io/managed-by": "Helm"}, serviceOf(nil)),
	} {
		if err := admin.Create(ctx, o, dry); err != nil {
			t.Errorf("the operator's policies refuse another user %s: %v", what, err)
		}
	}

	// What it does need still works.
	may := map[string]*unstructured.Unstructured{
		"create an exposure's Service":          child("v1", "Service", "triton", serviceOf(nil)),
		"create an exposure's NodePort Service": child("v1", "Service", "triton-np", serviceOf(map[string]any{"type": "NodePort"})),
		"create its HAProxy ConfigMap":          obj("v1", "ConfigMap", opNamespace, "inference-exposure-haproxy", managed, map[string]any{"data": map[string]any{"00-global.cfg": "global\n"}}),
		"create an Event on an exposure":        event("tenant-x"),
		"create an Event on a tenant":           event("default"),
		"create an Event in its namespace":      event(opNamespace),
		"create an exposure's Ingress":          child("networking.k8s.io/v1", "Ingress", "triton", map[string]any{"spec": map[string]any{"ingressClassName": "nginx", "rules": []any{map[string]any{"host": "triton.example.com"}}}}),
	}
	may["create a tenant's ListenerSet"] = listenerSet(true)
	if _, err := PodMonitorCRD(); err == nil {
		may["create an exposure's PodMonitor"] = child("monitoring.coreos.com/v1", "PodMonitor", "triton", map[string]any{"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "triton"}}, "podMetricsEndpoints": []any{map[string]any{"portNumber": int64(8002)}}}})
	}
	if _, err := InferencePoolCRD(); err == nil {
		may["create an exposure's InferencePool"] = child("inference.networking.k8s.io/v1", "InferencePool", "triton", map[string]any{"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "triton"}}, "targetPorts": []any{map[string]any{"number": int64(8000)}}}})
	}
	for what, o := range may {
		// The policies' params (the namespace's exposures) load a moment after they exist.
		deadline := time.Now().Add(30 * time.Second)
		for err := as.Create(ctx, o.DeepCopy(), dry); err != nil; err = as.Create(ctx, o.DeepCopy(), dry) {
			if time.Now().After(deadline) {
				t.Errorf("the operator's identity may not %s: %v", what, err)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if err := as.Patch(ctx, obj("exposure.inference.dev/v1alpha1", "InferenceTenant", "", "victim", nil, nil), client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":["exposure.inference.dev/release-port-block"]}}`)), dry); err != nil {
		t.Errorf("the operator's identity may not set a tenant's finalizer: %v", err)
	}
}
