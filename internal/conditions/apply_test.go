package conditions

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

func BenchmarkUnchangedStatus(b *testing.B) {
	have := &exposurev1alpha1.InferenceExposureStatus{ObservedGeneration: 1, Tenant: "alpha", ServiceName: "triton",
		NodePorts: &exposurev1alpha1.NodePorts{HTTP: 30800, GRPC: 30801, Metrics: 30802}}
	for i := range 9 {
		have.Conditions = append(have.Conditions, metav1.Condition{Type: fmt.Sprintf("Condition%d", i), Status: metav1.ConditionTrue,
			ObservedGeneration: 1, LastTransitionTime: metav1.Now(), Reason: "InPlace", Message: "the condition's message, as long as most"})
	}
	want := have.DeepCopy()
	b.ReportAllocs()
	for b.Loop() {
		if written, err := ApplyStatusVersion(context.Background(), nil, nil, have, want, StatusManager); written != nil || err != nil {
			b.Fatal(written, err)
		}
	}
}

// TestUnchangedStatusNotWritten: equal statuses, and statuses that differ only in the other
// manager's part, make no request (the client is nil: a request would panic).
func TestUnchangedStatusNotWritten(t *testing.T) {
	have := &exposurev1alpha1.InferenceExposureStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{
		{Type: exposurev1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Ready", LastTransitionTime: metav1.Unix(100, 0)},
		{Type: exposurev1alpha1.ConditionHAProxyFrontend, Status: metav1.ConditionTrue, Reason: "Rendered", LastTransitionTime: metav1.Unix(100, 0)},
	}}
	same := have.DeepCopy()
	otherManager := have.DeepCopy()
	otherManager.Conditions[1].Reason = "Skipped"
	for name, want := range map[string]*exposurev1alpha1.InferenceExposureStatus{"equal": same, "only the HAProxy part differs": otherManager} {
		if written, err := ApplyStatusVersion(context.Background(), nil, nil, have, want, StatusManager); written != nil || err != nil {
			t.Errorf("%s: written %v, %v", name, written, err)
		}
	}
}

// referenceStatusFields is how the manager's part of a status was built before statusPart:
// through the unstructured form, whose JSON is what the API server received.
func referenceStatusFields(t testing.TB, status any, manager string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(referenceStatusJSON(t, status, manager), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// referenceStatusJSON is the JSON referenceStatusFields decodes.
func referenceStatusJSON(t testing.TB, status any, manager string) []byte {
	t.Helper()
	all, err := runtime.DefaultUnstructuredConverter.ToUnstructured(status)
	if err != nil {
		t.Fatal(err)
	}
	haproxy := manager == HAProxyStatusManager
	out := map[string]any{}
	if !haproxy {
		for k, v := range all {
			if k != "conditions" {
				out[k] = v
			}
		}
	}
	conds, _ := all["conditions"].([]any)
	var mine []any
	for _, c := range conds {
		typ, _ := c.(map[string]any)["type"].(string)
		if slices.Contains(haproxyConditions, typ) == haproxy {
			mine = append(mine, c)
		}
	}
	if len(mine) > 0 {
		out["conditions"] = mine
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStatusPartMatchesUnstructured: the typed encoding of each manager's part of tenant and
// exposure statuses says what the unstructured one said, for full, empty and partial statuses.
func TestStatusPartMatchesUnstructured(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 11, 23, 1, 2, 3, 0, time.UTC))
	cond := func(typ string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, ObservedGeneration: 2, LastTransitionTime: now, Reason: "R", Message: typ + " <&> \u2028"}
	}
	statuses := map[string]any{
		"empty exposure": &exposurev1alpha1.InferenceExposureStatus{},
		"full exposure": &exposurev1alpha1.InferenceExposureStatus{ObservedGeneration: 3, Tenant: "alpha", ServiceName: "triton",
			NodePorts: &exposurev1alpha1.NodePorts{HTTP: 30800, GRPC: 30801}, URL: "https://a.example.com", GRPCAddress: "a:443",
			Router:     &exposurev1alpha1.RouterStatus{Type: exposurev1alpha1.RouterIngress, Host: "a.example.com", Objects: []string{"Ingress/a"}},
			Conditions: []metav1.Condition{cond(exposurev1alpha1.ConditionReady), cond(exposurev1alpha1.ConditionHAProxyFrontend), cond(exposurev1alpha1.ConditionTenantResolved)}},
		"exposure, only HAProxy conditions": &exposurev1alpha1.InferenceExposureStatus{Conditions: []metav1.Condition{cond(exposurev1alpha1.ConditionHAProxyFrontend)}},
		"exposure, empty slices":            &exposurev1alpha1.InferenceExposureStatus{Router: &exposurev1alpha1.RouterStatus{Objects: []string{}}, NodePorts: &exposurev1alpha1.NodePorts{}, Conditions: []metav1.Condition{}},
		"empty tenant":                      &exposurev1alpha1.InferenceTenantStatus{},
		"full tenant": &exposurev1alpha1.InferenceTenantStatus{ObservedGeneration: 1, PortBlock: &exposurev1alpha1.PortBlockStatus{Start: 30800, End: 30899, Size: 100},
			PortsUsed: 3, PortsFree: 97, ForeignPorts: []int32{30850}, Namespaces: []string{"a", "b"},
			Conditions: []metav1.Condition{cond(exposurev1alpha1.ConditionHAProxyConfigured), cond(exposurev1alpha1.ConditionReady)}},
	}
	for name, st := range statuses {
		for _, manager := range []string{StatusManager, HAProxyStatusManager} {
			t.Run(name+"/"+manager, func(t *testing.T) {
				b, err := statusPart(st, manager)
				if err != nil {
					t.Fatal(err)
				}
				var got any
				if err := json.Unmarshal(b, &got); err != nil {
					t.Fatal(err)
				}
				if want := referenceStatusFields(t, st, manager); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s\nwant %v", b, want)
				}
			})
		}
	}
	if _, err := statusPart(&exposurev1alpha1.InferenceExposureSpec{}, StatusManager); err == nil {
		t.Error("a spec was taken for a status")
	}
}

// BenchmarkStatusPart: deciding whether an exposure's status changed for its manager (both
// parts encoded), typed against through the unstructured form as before.
func BenchmarkStatusPart(b *testing.B) {
	st := &exposurev1alpha1.InferenceExposureStatus{ObservedGeneration: 1, Tenant: "alpha", ServiceName: "triton",
		NodePorts: &exposurev1alpha1.NodePorts{HTTP: 30800, GRPC: 30801, Metrics: 30802}}
	for _, typ := range []string{exposurev1alpha1.ConditionTenantResolved, exposurev1alpha1.ConditionPortsAllocated, exposurev1alpha1.ConditionServiceReady,
		exposurev1alpha1.ConditionRouted, exposurev1alpha1.ConditionIngressReady, exposurev1alpha1.ConditionGRPCIngressReady,
		exposurev1alpha1.ConditionHAProxyFrontend, exposurev1alpha1.ConditionReady} {
		st.Conditions = append(st.Conditions, metav1.Condition{Type: typ, Status: metav1.ConditionTrue, ObservedGeneration: 1,
			LastTransitionTime: metav1.Now(), Reason: "Applied", Message: typ + " is in place"})
	}
	b.Run("typed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for range 2 {
				if _, err := statusPart(st, StatusManager); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("unstructured", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for range 2 {
				referenceStatusJSON(b, st, StatusManager)
			}
		}
	})
}
