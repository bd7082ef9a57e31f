package controller

import (
	"testing"
	"time"

	"k8s.io/utils/ptr"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// TestHAProxyFrontendTimeout: an exposure's router.timeout bounds its gRPC frontend's streams;
// 0 means no limit (24h), no router means the global --haproxy-timeout.
func TestHAProxyFrontendTimeout(t *testing.T) {
	tenant := exposurev1alpha1.InferenceTenant{}
	tenant.Name = "alpha"
	tenant.Spec.HAProxy = &exposurev1alpha1.TenantHAProxySpec{VIP: "10.0.100.10"}
	tenant.Status.Namespaces = []string{"team-a"}
	exp := func(name string, timeout *exposurev1alpha1.Duration, grpc int32) *exposurev1alpha1.InferenceExposure {
		e := newExposure("team-a", name, ptr.To[int32](8000), ptr.To[int32](8001), nil)
		if timeout != nil {
			e.Spec.Router = &exposurev1alpha1.RouterSpec{Timeout: *timeout}
		}
		e.Status.Tenant = "alpha"
		e.Status.NodePorts = &exposurev1alpha1.NodePorts{HTTP: grpc - 1, GRPC: grpc}
		return e
	}
	in := BuildHAProxyInput(HAProxySettings{}, []*exposurev1alpha1.InferenceTenant{&tenant}, []*exposurev1alpha1.InferenceExposure{
		exp("plain", nil, 30801), exp("ten-minutes", ptr.To[exposurev1alpha1.Duration]("10m"), 30803), exp("unlimited", ptr.To[exposurev1alpha1.Duration]("0"), 30805),
	}, nil)
	want := map[string]time.Duration{"plain": 0, "ten-minutes": 10 * time.Minute, "unlimited": 24 * time.Hour}
	if len(in.Tenants) != 1 || len(in.Tenants[0].GRPC) != 3 {
		t.Fatalf("input = %+v", in)
	}
	for _, f := range in.Tenants[0].GRPC {
		if f.Timeout != want[f.Exposure] {
			t.Errorf("%s: timeout %v, want %v", f.Exposure, f.Timeout, want[f.Exposure])
		}
	}
}
