package kubecache

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
)

// svcWithPorts is a Service holding ports; managed ones have an exposure as controller. tenant
// is only a label: it must never decide membership.
func svcWithPorts(ns, name, tenant string, ports ...int32) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if tenant != "" {
		s.Labels = map[string]string{exposurev1alpha1.LabelManagedBy: exposurev1alpha1.ManagedByValue, exposurev1alpha1.LabelTenant: tenant}
		s.OwnerReferences = []metav1.OwnerReference{{APIVersion: exposurev1alpha1.GroupVersion.String(), Kind: "InferenceExposure", Name: name, Controller: ptr.To(true)}}
	}
	for _, p := range ports {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{NodePort: p})
	}
	return s
}

// TestNodePortView: the view follows Services as they are added, change ports and go, and tells
// the tenant's own ports from foreign ones.
func TestNodePortView(t *testing.T) {
	v := NewNodePortView()
	v.Set(svcWithPorts("a", "triton", "alpha", 30800, 30801))
	v.Set(svcWithPorts("a", "sneaky", "", 30802))
	v.Set(svcWithPorts("b", "vllm", "beta", 30900))
	// Tenant beta's Service, labelled as alpha's: its namespace says it is beta's.
	v.Set(svcWithPorts("b", "decoy", "alpha", 30803))
	alpha := map[string]bool{"a": true}
	held := func(r allocator.Range) map[int32]string {
		out := map[int32]string{}
		v.InRange(r, func(p int32, h PortHolder) { out[p] = h.Key.Name + "/" + fmt.Sprint(h.OwnedBy(alpha)) })
		return out
	}
	block := allocator.Range{Start: 30800, End: 30899}
	if got := held(block); len(got) != 4 || got[30800] != "triton/true" || got[30802] != "sneaky/false" || got[30803] != "decoy/false" {
		t.Fatalf("held = %v", got)
	}
	foreign := v.Foreign(alpha)
	slices.Sort(foreign)
	if !slices.Equal(foreign, []int32{30802, 30803, 30900}) {
		t.Fatalf("foreign to alpha = %v", foreign)
	}
	v.Remove(types.NamespacedName{Namespace: "b", Name: "decoy"})
	// triton moves a port; sneaky goes.
	v.Set(svcWithPorts("a", "triton", "alpha", 30800, 30805))
	v.Remove(types.NamespacedName{Namespace: "a", Name: "sneaky"})
	if got := held(block); len(got) != 2 || got[30805] != "triton/true" || got[30801] != "" {
		t.Fatalf("after changes: %v", got)
	}
	// A Service that lost its node ports (turned ClusterIP) holds nothing.
	v.Set(svcWithPorts("a", "triton", "alpha"))
	if got := held(block); len(got) != 0 {
		t.Fatalf("after ClusterIP: %v", got)
	}
}

func BenchmarkNodePortViewInRange(b *testing.B) {
	v := NewNodePortView()
	for i := range 10000 {
		v.Set(svcWithPorts("ns", "s"+string(rune(i)), "alpha", int32(30000+3*i), int32(30001+3*i), int32(30002+3*i)))
	}
	block := allocator.Range{Start: 45000, End: 45309}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		v.InRange(block, func(int32, PortHolder) { n++ })
	}
}

// BenchmarkNodePortViewHeld: what the view keeps for 10,000 exposures' Services (30,000 node
// ports), reported as retained bytes (heap after a collection).
func BenchmarkNodePortViewHeld(b *testing.B) {
	svcs := make([]*corev1.Service, 10000)
	for i := range svcs {
		svcs[i] = svcWithPorts("ns", "s"+strconv.Itoa(i), "alpha", int32(30000+3*i), int32(30001+3*i), int32(30002+3*i))
	}
	var ms runtime.MemStats
	var retained uint64
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		v := NewNodePortView()
		for _, s := range svcs {
			v.Set(s)
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		retained = ms.HeapAlloc - before
		runtime.KeepAlive(v)
	}
	b.ReportMetric(float64(retained), "B-retained")
}
