package samples

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

// buildDefault renders config/default with kustomize (skips without kustomize).
func buildDefault(t *testing.T) ([]*unstructured.Unstructured, error) {
	t.Helper()
	return testenv.DecodeManifests(testenv.KustomizeDefault(t))
}

// TestDefaultDeploymentIsAccepted renders config/default with kustomize and applies it with
// server-side dry-run against a real API server: what `make deploy` sends must be valid.
func TestDefaultDeploymentIsAccepted(t *testing.T) {
	objs, err := buildDefault(t)
	if err != nil {
		t.Fatalf("decoding kustomize output: %v", err)
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
	}
	for _, k := range []string{"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount", "Deployment", "Service"} {
		if kinds[k] == 0 {
			t.Errorf("config/default renders no %s (got %v)", k, kinds)
		}
	}

	c := startControlPlane(t, false) // the CRDs come from the rendered manifests
	ctx := context.Background()
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			if err := c.Create(ctx, o); err != nil { // for real: the rest is dry-run into it
				t.Fatal(err)
			}
		}
	}
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			continue
		}
		if err := c.Patch(ctx, o, client.Apply, client.DryRunAll, client.FieldOwner("deploy-test"), client.ForceOwnership); err != nil { //nolint:staticcheck // unstructured server-side apply
			t.Errorf("%s %s refused: %v", o.GetKind(), o.GetName(), err)
		}
	}
	// The Deployment runs non-root with a read-only root filesystem and leader election.
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		ctrs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		c := ctrs[0].(map[string]any)
		if ro, _, _ := unstructured.NestedBool(c, "securityContext", "readOnlyRootFilesystem"); !ro {
			t.Error("root filesystem is writable")
		}
		if nr, _, _ := unstructured.NestedBool(o.Object, "spec", "template", "spec", "securityContext", "runAsNonRoot"); !nr {
			t.Error("may run as root")
		}
		args, _, _ := unstructured.NestedStringSlice(c, "args")
		found := false
		for _, a := range args {
			found = found || a == "--leader-elect"
		}
		if !found {
			t.Errorf("no leader election: %v", args)
		}
	}
}

// TestDefaultDeploymentIdentity: acting as the operator's ServiceAccount with the RBAC and
// admission policy of config/default, it cannot read Secrets, touch kube-system/aws-auth or
// write a Service or ConfigMap it did not create.
func TestDefaultDeploymentIdentity(t *testing.T) {
	objs, err := buildDefault(t)
	if err != nil {
		t.Fatal(err)
	}
	testenv.CheckOperatorIdentity(t, objs, "inference-exposure-system", "inference-exposure-controller-manager")
}

// TestDefaultDeploymentRestricted: the operator's pods from config/default meet the Pod Security
// restricted level (what OpenShift's restricted-v2 SCC also asks: non-root, no privilege
// escalation, all capabilities dropped, the RuntimeDefault seccomp profile).
func TestDefaultDeploymentRestricted(t *testing.T) {
	objs, err := buildDefault(t)
	if err != nil {
		t.Fatal(err)
	}
	testenv.CheckRestricted(t, objs)
}
