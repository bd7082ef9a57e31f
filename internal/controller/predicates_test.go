package controller

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
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

// TestExposureChangedForHAProxy: status churn (conditions) renders nothing; ports, tenant and
// spec do.
func TestExposureChangedForHAProxy(t *testing.T) {
	base := func() *exposurev1alpha1.InferenceExposure {
		return &exposurev1alpha1.InferenceExposure{
			ObjectMeta: metav1.ObjectMeta{Name: "triton", Namespace: "a", Generation: 1},
			Status:     exposurev1alpha1.InferenceExposureStatus{Tenant: "alpha", NodePorts: &exposurev1alpha1.NodePorts{GRPC: 30801}},
		}
	}
	for name, tc := range map[string]struct {
		change func(*exposurev1alpha1.InferenceExposure)
		want   bool
	}{
		"conditions": {func(e *exposurev1alpha1.InferenceExposure) {
			e.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue}}
		}, false},
		"url (a host the tenant VIP may pass)": {func(e *exposurev1alpha1.InferenceExposure) { e.Status.URL = "https://x" }, true},
		"grpc address":                         {func(e *exposurev1alpha1.InferenceExposure) { e.Status.GRPCAddress = "x:443" }, true},
		"node ports":                           {func(e *exposurev1alpha1.InferenceExposure) { e.Status.NodePorts.GRPC = 30802 }, true},
		"tenant":                               {func(e *exposurev1alpha1.InferenceExposure) { e.Status.Tenant = "" }, true},
		"spec":                                 {func(e *exposurev1alpha1.InferenceExposure) { e.Generation = 2 }, true},
	} {
		t.Run(name, func(t *testing.T) {
			old, updated := base(), base()
			tc.change(updated)
			if got := exposureChangedForHAProxy(event.UpdateEvent{ObjectOld: old, ObjectNew: updated}); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestShardOf: a tenant's shard depends on its name and the shard count only, and the shards
// are used evenly enough that no shard holds a large share.
func TestShardOf(t *testing.T) {
	counts := make([]int, DefaultShards)
	for i := range 1600 {
		name := "tenant-" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		s := ShardOf(name, DefaultShards)
		if s != ShardOf(name, DefaultShards) || s < 0 || s >= DefaultShards {
			t.Fatalf("ShardOf(%q) = %d", name, s)
		}
		counts[s]++
	}
	for i, n := range counts {
		if n < 50 || n > 150 {
			t.Errorf("shard %d holds %d of 1600 tenants: %v", i, n, counts)
		}
	}
	if ShardName("inference-exposure-haproxy", 3) != "inference-exposure-haproxy-03" || ShardKey(3) != "shard-03.cfg" {
		t.Fatal("shard names changed: the sample deployment lists them")
	}
}
