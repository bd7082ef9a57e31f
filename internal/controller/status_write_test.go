package controller

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/conditions"
)

// managedStatusFields returns, per manager and operation of the status subresource, the FieldsV1 text.
func managedStatusFields(t *testing.T, name string) map[string]string {
	t.Helper()
	return statusManagersOf(getTenant(t, name))
}

func statusManagersOf(obj client.Object) map[string]string {
	out := map[string]string{}
	for _, e := range obj.GetManagedFields() {
		if e.Subresource == "status" && e.FieldsV1 != nil {
			out[e.Manager+"/"+string(e.Operation)] = string(e.FieldsV1.Raw)
		}
	}
	return out
}

// checkStatusManagers: the tenant's status has two apply managers, the HAProxy controller's
// owning HAProxyConfigured alone, and no whole-status Update entry.
func checkStatusManagers(t *testing.T, name string) {
	t.Helper()
	f := managedStatusFields(t, name)
	hp, tn := f[conditions.HAProxyStatusManager+"/Apply"], f[conditions.StatusManager+"/Apply"]
	switch {
	case !strings.Contains(hp, `HAProxyConfigured`) || strings.Contains(hp, `\"Ready\"`) || strings.Contains(hp, "portBlock"):
		t.Errorf("HAProxy manager fields: %s", hp)
	case strings.Contains(tn, "HAProxyConfigured") || !strings.Contains(tn, `\"Ready\"`) || !strings.Contains(tn, "f:portBlock"):
		t.Errorf("tenant manager fields: %s", tn)
	case f[exposurev1alpha1.FieldManager+"/Update"] != "":
		t.Errorf("a whole-status Update entry is left: %v", f)
	}
}

func BenchmarkApplyStatus(b *testing.B) {
	ctx := context.Background()
	ns := newNamespace(b, "status-bench")
	exp := newExposure(ns, "triton", ptr.To[int32](8000), ptr.To[int32](8001), ptr.To[int32](8002))
	if err := k8s.Create(ctx, exp); err != nil {
		b.Fatal(err)
	}
	status := func(i int) *exposurev1alpha1.InferenceExposureStatus {
		st := &exposurev1alpha1.InferenceExposureStatus{ObservedGeneration: 1, Tenant: "alpha", ServiceName: "triton",
			NodePorts: &exposurev1alpha1.NodePorts{HTTP: 30800, GRPC: 30801, Metrics: 30802}}
		for _, typ := range []string{exposurev1alpha1.ConditionTenantResolved, exposurev1alpha1.ConditionPortsAllocated, exposurev1alpha1.ConditionServiceReady,
			exposurev1alpha1.ConditionRouted, exposurev1alpha1.ConditionIngressReady, exposurev1alpha1.ConditionReady} {
			st.Conditions = append(st.Conditions, metav1.Condition{Type: typ, Status: metav1.ConditionTrue, ObservedGeneration: 1,
				LastTransitionTime: metav1.Now(), Reason: "Applied", Message: typ + " is in place, write " + string(rune('a'+i%2))})
		}
		return st
	}
	have := exp.Status.DeepCopy()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		want := status(i)
		written, err := conditions.ApplyStatusVersion(ctx, k8s, exp, have, want, conditions.StatusManager)
		if err != nil || written == nil {
			b.Fatal("not written:", err)
		}
		exp.ResourceVersion = written.GetResourceVersion()
		have = want
		i++
	}
}
