package exposure

import (
	"testing"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// TestRoutingSettled: the clean-up of routing objects is skipped only after a successful
// reconcile of the same generation that made the same objects with the same router type.
func TestRoutingSettled(t *testing.T) {
	keys := []string{"Ingress/triton", "Ingress/triton-grpc"}
	settled := func(mod func(*exposurev1alpha1.InferenceExposure)) *exposurev1alpha1.InferenceExposure {
		e := &exposurev1alpha1.InferenceExposure{}
		e.Generation = 3
		e.Status.ObservedGeneration = 3
		e.Status.Router = &exposurev1alpha1.RouterStatus{Type: exposurev1alpha1.RouterIngress, Objects: append([]string(nil), keys...)}
		if mod != nil {
			mod(e)
		}
		return e
	}
	for _, tc := range []struct {
		name string
		exp  *exposurev1alpha1.InferenceExposure
		typ  exposurev1alpha1.RouterType
		keys []string
		want bool
	}{
		{"same generation, type and objects", settled(nil), exposurev1alpha1.RouterIngress, keys, true},
		{"spec changed since", settled(func(e *exposurev1alpha1.InferenceExposure) { e.Generation = 4 }), exposurev1alpha1.RouterIngress, keys, false},
		{"another type now", settled(nil), exposurev1alpha1.RouterRoute, keys, false},
		{"one object fewer", settled(nil), exposurev1alpha1.RouterIngress, keys[:1], false},
		{"other objects", settled(nil), exposurev1alpha1.RouterIngress, []string{"Ingress/triton", "Ingress/other"}, false},
		{"nothing routed before", settled(func(e *exposurev1alpha1.InferenceExposure) { e.Status.Router = nil }), exposurev1alpha1.RouterIngress, keys, false},
		{"never reconciled", &exposurev1alpha1.InferenceExposure{}, exposurev1alpha1.RouterIngress, keys, false},
	} {
		if got := routingSettled(tc.exp, tc.typ, tc.keys); got != tc.want {
			t.Errorf("%s: routingSettled = %v, want %v", tc.name, got, tc.want)
		}
	}
}
