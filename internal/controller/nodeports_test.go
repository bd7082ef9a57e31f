package controller

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
	v := newNodePortView()
	v.set(svcWithPorts("a", "triton", "alpha", 30800, 30801))
	v.set(svcWithPorts("a", "sneaky", "", 30802))
	v.set(svcWithPorts("b", "vllm", "beta", 30900))
	// Tenant beta's Service, labelled as alpha's: its namespace says it is beta's.
	v.set(svcWithPorts("b", "decoy", "alpha", 30803))
	alpha := map[string]bool{"a": true}
	held := func(r allocator.Range) map[int32]string {
		out := map[int32]string{}
		v.inRange(r, func(p int32, h portHolder) { out[p] = h.key.Name + "/" + fmt.Sprint(h.ownedBy(alpha)) })
		return out
	}
	block := allocator.Range{Start: 30800, End: 30899}
	if got := held(block); len(got) != 4 || got[30800] != "triton/true" || got[30802] != "sneaky/false" || got[30803] != "decoy/false" {
		t.Fatalf("held = %v", got)
	}
	foreign := v.foreign(alpha)
	slices.Sort(foreign)
	if !slices.Equal(foreign, []int32{30802, 30803, 30900}) {
		t.Fatalf("foreign to alpha = %v", foreign)
	}
	v.remove(types.NamespacedName{Namespace: "b", Name: "decoy"})
	// triton moves a port; sneaky goes.
	v.set(svcWithPorts("a", "triton", "alpha", 30800, 30805))
	v.remove(types.NamespacedName{Namespace: "a", Name: "sneaky"})
	if got := held(block); len(got) != 2 || got[30805] != "triton/true" || got[30801] != "" {
		t.Fatalf("after changes: %v", got)
	}
	// A Service that lost its node ports (turned ClusterIP) holds nothing.
	v.set(svcWithPorts("a", "triton", "alpha"))
	if got := held(block); len(got) != 0 {
		t.Fatalf("after ClusterIP: %v", got)
	}
}

func BenchmarkNodePortViewInRange(b *testing.B) {
	v := newNodePortView()
	for i := range 10000 {
		v.set(svcWithPorts("ns", "s"+string(rune(i)), "alpha", int32(30000+3*i), int32(30001+3*i), int32(30002+3*i)))
	}
	block := allocator.Range{Start: 45000, End: 45309}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		v.inRange(block, func(int32, portHolder) { n++ })
	}
}

// BenchmarkAssignPortsFromView: an exposure's ports picked in a block of 900 where 200
// exposures hold 600 ports (a tenant at 10,000 exposures / 50 tenants), with 10,000 Services
// in the view.
func BenchmarkAssignPortsFromView(b *testing.B) {
	v := newNodePortView()
	for i := range 10000 {
		base := int32(30000 + 3*i) // the first 200 in the block, the others above it
		if i >= 200 {
			base = int32(31000 + 3*(i-200))
		}
		v.set(svcWithPorts("ns", "s"+strconv.Itoa(i), "alpha", base, base+1, base+2))
	}
	r := &ExposureReconciler{Ports: v}
	block := allocator.Range{Start: 30000, End: 30899}
	req := allocator.PortRequest{Names: []string{allocator.PortHTTP, allocator.PortGRPC, allocator.PortMetrics}}
	self := types.NamespacedName{Namespace: "ns", Name: "new"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.assignPorts(self, block, req, map[int32]bool{}); err != nil {
			b.Fatal(err)
		}
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
		v := newNodePortView()
		for _, s := range svcs {
			v.set(s)
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		retained = ms.HeapAlloc - before
		runtime.KeepAlive(v)
	}
	b.ReportMetric(float64(retained), "B-retained")
}
