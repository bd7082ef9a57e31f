package kubecache

import (
	"maps"
	"reflect"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// sameMap reports whether a and b are one map, not two equal ones.
func sameMap(a, b map[string]string) bool {
	return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer()
}

func childLabels(tenant, exposure string) map[string]string {
	return map[string]string{exposurev1alpha1.LabelManagedBy: exposurev1alpha1.ManagedByValue, exposurev1alpha1.LabelTenant: tenant, exposurev1alpha1.LabelExposure: exposure}
}

// TestLabelMapsShared: equal label sets of the operator's children get one map, with the
// content they were decoded with; other sets get their own; entries go after two idle periods.
func TestLabelMapsShared(t *testing.T) {
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	tbl := &labelMaps{now: func() time.Time { return now }}
	first := tbl.shared(childLabels("alpha", "m1"), internedLabels)
	tests := []struct {
		name   string
		labels map[string]string
		shared bool
	}{
		{"the same set, decoded again", childLabels("alpha", "m1"), true},
		{"another exposure", childLabels("alpha", "m2"), false},
		{"another tenant", childLabels("beta", "m1"), false},
		{"one label more", func() map[string]string { l := childLabels("alpha", "m1"); l["x"] = "y"; return l }(), false},
		{"a value moved to another key", map[string]string{exposurev1alpha1.LabelManagedBy: exposurev1alpha1.ManagedByValue, exposurev1alpha1.LabelTenant: "m1", exposurev1alpha1.LabelExposure: "alpha"}, false},
		{"an empty value", childLabels("alpha", ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tbl.shared(tt.labels, internedLabels)
			if !reflect.DeepEqual(got, tt.labels) {
				t.Fatalf("labels %v, want %v", got, tt.labels)
			}
			if sameMap(got, first) != tt.shared {
				t.Fatalf("shared with the first set: %v, want %v", sameMap(got, first), tt.shared)
			}
		})
	}

	// Not the operator's children, or too many labels: each object keeps its own copy.
	foreign := map[string]string{"app": "web"}
	if sameMap(tbl.shared(foreign, internedLabels), tbl.shared(map[string]string{"app": "web"}, internedLabels)) {
		t.Error("a foreign label set was shared")
	}
	many := childLabels("alpha", "big")
	for i := range maxSharedLabels {
		many["k"+strconv.Itoa(i)] = "v"
	}
	if sameMap(tbl.shared(many, internedLabels), tbl.shared(maps.Clone(many), internedLabels)) {
		t.Error("a set of more than maxSharedLabels labels was shared")
	}

	// A set asked for within a period stays; one idle for two periods goes.
	now = now.Add(labelMapTTL)
	if !sameMap(tbl.shared(childLabels("alpha", "m1"), internedLabels), first) {
		t.Fatal("m1's set went after one period although it was asked for")
	}
	now = now.Add(labelMapTTL)
	if !sameMap(tbl.shared(childLabels("alpha", "m1"), internedLabels), first) {
		t.Fatal("m1's set went although it was asked for in the last period")
	}
	m2 := tbl.shared(childLabels("alpha", "m2"), internedLabels)
	now = now.Add(2 * labelMapTTL)
	tbl.shared(childLabels("alpha", "m3"), internedLabels)
	now = now.Add(labelMapTTL)
	if sameMap(tbl.shared(childLabels("alpha", "m2"), internedLabels), m2) {
		t.Fatal("m2's set stayed after two idle periods")
	}
	if n := len(tbl.cur) + len(tbl.prev); n > 3 {
		t.Fatalf("the table holds %d sets", n)
	}
}

// TestTransformsShareChildLabels: an exposure's Service and Ingresses, decoded separately,
// carry one label map once through the cache transforms.
func TestTransformsShareChildLabels(t *testing.T) {
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "team-a", Labels: childLabels("alpha", "shared-"+t.Name())}
	}
	svc := decode(t, &corev1.Service{ObjectMeta: meta("m1"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort}})
	ing := decode(t, &networkingv1.Ingress{ObjectMeta: meta("m1")})
	grpc := decode(t, &networkingv1.Ingress{ObjectMeta: meta("m1-grpc")})
	if _, err := stripForeignService(svc); err != nil {
		t.Fatal(err)
	}
	for _, o := range []any{ing, grpc} {
		if _, err := stripAndIntern(o); err != nil {
			t.Fatal(err)
		}
	}
	if !sameMap(svc.Labels, ing.Labels) || !sameMap(ing.Labels, grpc.Labels) {
		t.Fatal("the children's label maps are not shared")
	}
	if !reflect.DeepEqual(svc.Labels, childLabels("alpha", "shared-"+t.Name())) {
		t.Fatalf("labels %v", svc.Labels)
	}
}

// BenchmarkInternLabels: a child's labels through the transform when its set is in the table
// (its siblings were seen) and when it is new.
func BenchmarkInternLabels(b *testing.B) {
	b.Run("seen", func(b *testing.B) {
		sharedLabelMaps.shared(childLabels("alpha", "bench"), internedLabels)
		b.ReportAllocs()
		for b.Loop() {
			s := corev1.Service{ObjectMeta: metav1.ObjectMeta{Labels: childLabels("alpha", "bench")}}
			internLabels(&s)
		}
	})
	b.Run("new", func(b *testing.B) {
		tbl := &labelMaps{}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			tbl.shared(childLabels("alpha", "e"+strconv.Itoa(i)), internedLabels)
			i++
		}
	})
}
