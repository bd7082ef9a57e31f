// Package samples checks that the shipped manifests are accepted by a real API server, as a
// user applying them would find out.
package samples

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

func readObjects(t *testing.T, pattern string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := testenv.ReadManifests(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// startControlPlane starts kube-apiserver and etcd for one test and returns a client.
func startControlPlane(t *testing.T, withCRDs bool) client.Client {
	t.Helper()
	_, c := testenv.StartForTest(t, withCRDs, nil)
	return c
}

// TestSamplesAreAccepted applies config/samples with server-side dry-run: schemas, CEL rules
// and the Deployment of the HAProxy sample must all pass.
func TestSamplesAreAccepted(t *testing.T) {
	c := startControlPlane(t, true)
	ctx := context.Background()
	objs := append(readObjects(t, "config/samples/*.yaml"), readObjects(t, "config/samples/haproxy/*.yaml")...)
	// Namespaces first, for real, so that namespaced objects can be dry-run into them.
	for _, ns := range []string{"tenant-alpha", "tenant-beta", "inference-exposure-system"} {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
		if err := c.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			continue
		}
		if err := c.Create(ctx, o, client.DryRunAll); err != nil {
			t.Errorf("%s %s refused: %v", o.GetKind(), o.GetName(), err)
		}
	}
}
