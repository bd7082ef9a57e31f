package kubecache

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// countingMapper serves one kind, and counts the lookups that reach it.
type countingMapper struct {
	meta.RESTMapper
	lookups int
	served  bool
}

func (c *countingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	c.lookups++
	if !c.served || gk.Kind != "InferenceExposure" {
		return nil, &meta.NoKindMatchError{GroupKind: gk, SearchedVersions: versions}
	}
	return &meta.RESTMapping{Resource: schema.GroupVersionResource{Group: gk.Group, Version: "v1alpha1", Resource: "inferenceexposures"}, Scope: meta.RESTScopeNamespace}, nil
}

// TestRememberingMapper: a found mapping is looked up once a minute; a kind that is not
// served is asked every time, so it is found as soon as its CRD is installed.
func TestRememberingMapper(t *testing.T) {
	inner := &countingMapper{}
	now := time.Unix(0, 0)
	m := &rememberingMapper{RESTMapper: inner, now: func() time.Time { return now }}
	exp := schema.GroupKind{Group: "exposure.inference.dev", Kind: "InferenceExposure"}

	if _, err := m.RESTMapping(exp, "v1alpha1"); !meta.IsNoMatchError(err) {
		t.Fatalf("not served yet: err = %v", err)
	}
	inner.served = true // the CRD is installed
	for range 3 {
		rm, err := m.RESTMapping(exp, "v1alpha1")
		if err != nil || rm.Resource.Resource != "inferenceexposures" {
			t.Fatalf("mapping = %v, %v", rm, err)
		}
	}
	if inner.lookups != 2 {
		t.Errorf("lookups = %d, want 2: one while not served, one for the three calls after", inner.lookups)
	}
	if _, err := m.RESTMapping(exp); err != nil || inner.lookups != 3 {
		t.Errorf("another version list is another question: lookups = %d, err = %v", inner.lookups, err)
	}
	now = now.Add(mappingTTL)
	if _, err := m.RESTMapping(exp, "v1alpha1"); err != nil || inner.lookups != 4 {
		t.Errorf("after a minute the mapping is looked up again: lookups = %d, err = %v", inner.lookups, err)
	}
	if _, err := m.RESTMapping(schema.GroupKind{Group: "route.openshift.io", Kind: "Route"}, "v1"); !meta.IsNoMatchError(err) {
		t.Errorf("a kind not served: err = %v", err)
	}
}

// BenchmarkRememberingMapper: a remembered lookup, what every request now pays.
func BenchmarkRememberingMapper(b *testing.B) {
	m := &rememberingMapper{RESTMapper: &countingMapper{served: true}}
	exp := schema.GroupKind{Group: "exposure.inference.dev", Kind: "InferenceExposure"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.RESTMapping(exp, "v1alpha1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRESTMapping: one lookup of the exposure kind on a real API server's discovery
// (with the Gateway API and Route CRDs installed), by controller-runtime's dynamic mapper and
// by the one the manager uses.
func BenchmarkRESTMapping(b *testing.B) {
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		b.Fatal(err)
	}
	dynamic, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		b.Fatal(err)
	}
	remembering, err := NewRESTMapper(cfg, httpClient)
	if err != nil {
		b.Fatal(err)
	}
	gk := exposurev1alpha1.GroupVersion.WithKind("InferenceExposure").GroupKind()
	for _, m := range []struct {
		name   string
		mapper meta.RESTMapper
	}{{"dynamic", dynamic}, {"remembering", remembering}} {
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.mapper.RESTMapping(gk, exposurev1alpha1.GroupVersion.Version); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
