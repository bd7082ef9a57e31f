package router

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// BenchmarkConflicts: every exposure reconcile decides host ownership over the whole cluster;
// 5000 routed exposures with two paths and a gRPC host each.
func BenchmarkConflicts(b *testing.B) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []Claimant
	for i := 0; i < 5000; i++ {
		h := fmt.Sprintf("m%d.team-%d.%s", i, i%200, domain)
		all = append(all, Claimant{
			Key:     types.NamespacedName{Namespace: fmt.Sprintf("team-%d", i%200), Name: fmt.Sprintf("m%d", i)},
			Created: metav1.NewTime(t0.Add(time.Duration(i) * time.Second)),
			Claims:  []Claim{{h, "/v2"}, {h, "/health"}, {"grpc-" + h, ""}},
		})
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(Conflicts(all)) != 0 {
			b.Fatal("unexpected conflicts")
		}
	}
}

// BenchmarkBuild: desired objects for one exposure (the steady-state comparison is
// BenchmarkUpToDate in the controller package).
func BenchmarkBuild(b *testing.B) {
	e := triton(func(r *exposurev1alpha1.RouterSpec) {
		r.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Name: "gw"}}
	})
	in := Input{Exposure: e, Tenant: "alpha", Type: exposurev1alpha1.RouterGateway, Host: "h." + domain, GRPCHost: "g." + domain}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(in); err != nil {
			b.Fatal(err)
		}
	}
}
