package controller

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

func desiredIngress() *networkingv1.Ingress {
	ing := &networkingv1.Ingress{}
	ing.Namespace, ing.Name = "ns", "triton"
	ing.Labels = map[string]string{"app": "triton"}
	ing.Annotations = map[string]string{"team": "a"}
	ing.Spec.IngressClassName = ptr.To("nginx")
	ing.Spec.Rules = []networkingv1.IngressRule{{Host: "triton.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
		Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{Name: "triton", Port: networkingv1.ServiceBackendPort{Number: 8000}}}}},
	}}}}
	return ing
}

// liveOf is what the API server returns after desired was written with its hash.
func liveOf(t testing.TB, desired *networkingv1.Ingress) *networkingv1.Ingress {
	t.Helper()
	_, hash, err := applyBody(desired, "Ingress")
	if err != nil {
		t.Fatal(err)
	}
	live := desired.DeepCopy()
	live.ResourceVersion = "42"
	live.Annotations[exposurev1alpha1.AnnotationApplied] = hash
	live.Annotations["someone"] = "else"
	live.Labels["extra"] = "kept"
	live.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "10.0.0.1"}}
	return live
}

func TestUpToDate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		live   func(*networkingv1.Ingress) // edits to the live object
		wanted func(*networkingv1.Ingress) // edits to what the spec asks for now
		ok     bool
	}{
		{name: "steady: others' fields and status do not count", ok: true},
		{name: "someone changed an owned field", live: func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Number = 9999
		}},
		{name: "someone removed an owned annotation", live: func(i *networkingv1.Ingress) { delete(i.Annotations, "team") }},
		{name: "the spec dropped a field", wanted: func(i *networkingv1.Ingress) { i.Spec.IngressClassName = nil }},
		{name: "the spec dropped an annotation", wanted: func(i *networkingv1.Ingress) { delete(i.Annotations, "team") }},
		{name: "the spec added a field", wanted: func(i *networkingv1.Ingress) { i.Spec.TLS = []networkingv1.IngressTLS{{SecretName: "s"}} }},
		{name: "an earlier version wrote it (no hash)", live: func(i *networkingv1.Ingress) {
			delete(i.Annotations, exposurev1alpha1.AnnotationApplied)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := liveOf(t, desiredIngress())
			if tc.live != nil {
				tc.live(live)
			}
			want := desiredIngress()
			if tc.wanted != nil {
				tc.wanted(want)
			}
			body, hash, err := applyBody(want, "Ingress")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := body.Object["status"]; ok {
				t.Error("the apply body carries status")
			}
			got, err := upToDate(live, body, hash)
			if err != nil || got != tc.ok {
				t.Fatalf("upToDate = %v (%v), want %v", got, err, tc.ok)
			}
		})
	}
}

func TestContains(t *testing.T) {
	for _, tc := range []struct {
		have, want any
		ok         bool
	}{
		{map[string]any{"a": int64(1), "b": "x"}, map[string]any{"a": int64(1)}, true},
		{map[string]any{"a": int64(1)}, map[string]any{"a": int64(2)}, false},
		{map[string]any{"a": float64(1)}, map[string]any{"a": int64(1)}, true},
		{[]any{"x", "y"}, []any{"x"}, false},
		{[]any{map[string]any{"k": "v", "d": "default"}}, []any{map[string]any{"k": "v"}}, true},
		{nil, map[string]any{}, true},
		{nil, map[string]any{"a": "b"}, false},
	} {
		if got := contains(tc.have, tc.want); got != tc.ok {
			t.Errorf("contains(%v, %v) = %v", tc.have, tc.want, got)
		}
	}
}

// BenchmarkUpToDate is the steady-state check every reconcile makes per child object.
func BenchmarkUpToDate(b *testing.B) {
	live := liveOf(b, desiredIngress())
	b.ReportAllocs()
	for b.Loop() {
		body, hash, err := applyBody(desiredIngress(), "Ingress")
		if err != nil {
			b.Fatal(err)
		}
		if ok, _ := upToDate(live, body, hash); !ok {
			b.Fatal("not up to date")
		}
	}
}
