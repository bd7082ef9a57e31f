// Package samples checks that the shipped manifests are accepted by a real API server, as a
// user applying them would find out.
package samples

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

func readObjects(t *testing.T, pattern string) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(u.Object) > 0 {
				out = append(out, u)
			}
		}
	}
	return out
}

// TestSamplesAreAccepted applies config/samples with server-side dry-run: schemas, CEL rules
// and the Deployment of the HAProxy sample must all pass.
func TestSamplesAreAccepted(t *testing.T) {
	env, err := testenv.Start(true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	c, err := client.New(env.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
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
