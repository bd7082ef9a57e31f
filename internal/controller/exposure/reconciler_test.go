package exposure

import (
	corev1 "k8s.io/api/core/v1"

	"maps"
	"strconv"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
	"github.com/inference-exposure/inference-exposure-operator/internal/kubecache"
)

// TestTenantChangedForExposures: usage figures do not re-queue a tenant's exposures (that made
// every Service write cost a reconcile of every exposure of the tenant); what exposures read does.
func TestTenantChangedForExposures(t *testing.T) {
	base := func() *exposurev1alpha1.InferenceTenant {
		return &exposurev1alpha1.InferenceTenant{
			ObjectMeta: metav1.ObjectMeta{Name: "alpha", Generation: 1},
			Status: exposurev1alpha1.InferenceTenantStatus{
				PortBlock:  &exposurev1alpha1.PortBlockStatus{Start: 30800, End: 30899, Size: 100},
				Namespaces: []string{"a"}, PortsUsed: 3, PortsFree: 97,
				Conditions: []metav1.Condition{{Type: exposurev1alpha1.ConditionBlockAllocated, Status: metav1.ConditionTrue, Reason: "Allocated"}},
			},
		}
	}
	for name, tc := range map[string]struct {
		change func(*exposurev1alpha1.InferenceTenant)
		want   bool
	}{
		"usage figures":    {func(t *exposurev1alpha1.InferenceTenant) { t.Status.PortsUsed, t.Status.PortsFree = 4, 96 }, false},
		"foreign ports":    {func(t *exposurev1alpha1.InferenceTenant) { t.Status.ForeignPorts = []int32{30850} }, false},
		"spec":             {func(t *exposurev1alpha1.InferenceTenant) { t.Generation = 2 }, true},
		"block":            {func(t *exposurev1alpha1.InferenceTenant) { t.Status.PortBlock = nil }, true},
		"owned namespaces": {func(t *exposurev1alpha1.InferenceTenant) { t.Status.Namespaces = []string{"a", "b"} }, true},
		"block condition": {func(t *exposurev1alpha1.InferenceTenant) {
			t.Status.Conditions[0].Status, t.Status.Conditions[0].Reason = metav1.ConditionFalse, "PoolExhausted"
		}, true},
		"deletion": {func(t *exposurev1alpha1.InferenceTenant) { now := metav1.Now(); t.DeletionTimestamp = &now }, true},
	} {
		t.Run(name, func(t *testing.T) {
			old, updated := base(), base()
			tc.change(updated)
			if got := tenantChangedForExposures(event.UpdateEvent{ObjectOld: old, ObjectNew: updated}); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestInterimPorts(t *testing.T) {
	ports := map[string]int32{"http": 30800, "grpc": 30801}
	cases := []struct {
		name    string
		current map[string]int32
		refused []int32
		want    map[string]int32 // nil: no interim apply
	}{
		{"the refused port falls back on the live one", map[string]int32{"http": 30800, "grpc": 30850}, []int32{30801}, map[string]int32{"http": 30800, "grpc": 30850}},
		{"each refused port has its own fallback", map[string]int32{"http": 30860, "grpc": 30850}, []int32{30800, 30801}, map[string]int32{"http": 30860, "grpc": 30850}},
		{"no Service: nothing to keep", map[string]int32{}, []int32{30801}, nil},
		{"the Service lacks that port", map[string]int32{"http": 30800}, []int32{30801}, nil},
		{"the live port is refused too", map[string]int32{"http": 30800, "grpc": 30801}, []int32{30801}, nil},
		{"nothing refused", map[string]int32{"http": 30800, "grpc": 30801}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := interimPorts(ports, tc.current, tc.refused)
			if ok != (tc.want != nil) || !maps.Equal(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, ok, tc.want)
			}
			if ports["grpc"] != 30801 || ports["http"] != 30800 {
				t.Fatal("the asked ports were changed")
			}
		})
	}
}

// BenchmarkAssignPortsFromView: an exposure's ports picked in a block of 900 where 200
// exposures hold 600 ports (a tenant at 10,000 exposures / 50 tenants), with 10,000 Services
// in the view.
func BenchmarkAssignPortsFromView(b *testing.B) {
	svcs := make([]corev1.Service, 10000)
	for i := range svcs {
		base := int32(30000 + 3*i) // the first 200 in the block, the others above it
		if i >= 200 {
			base = int32(31000 + 3*(i-200))
		}
		svcs[i].Namespace, svcs[i].Name = "ns", "s"+strconv.Itoa(i)
		for _, p := range []int32{base, base + 1, base + 2} {
			svcs[i].Spec.Ports = append(svcs[i].Spec.Ports, corev1.ServicePort{NodePort: p})
		}
	}
	r := &Reconciler{Ports: kubecache.NodePortsFrom(svcs)}
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
