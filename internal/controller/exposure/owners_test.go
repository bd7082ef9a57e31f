package exposure

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestControllingExposure: only a controller reference to an InferenceExposure of the
// operator's group (any version) queues, and it queues that exposure in the object's namespace.
func TestControllingExposure(t *testing.T) {
	ref := func(apiVersion, kind, name string, controller bool) metav1.OwnerReference {
		return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: "u", Controller: ptr.To(controller)}
	}
	tests := []struct {
		name string
		refs []metav1.OwnerReference
		want string
	}{
		{name: "no owner"},
		{name: "controlled by an exposure", refs: []metav1.OwnerReference{ref("exposure.inference.dev/v1alpha1", "InferenceExposure", "triton", true)}, want: "team-a/triton"},
		{name: "a later version of the group", refs: []metav1.OwnerReference{ref("exposure.inference.dev/v1", "InferenceExposure", "triton", true)}, want: "team-a/triton"},
		{name: "owned, not controlled", refs: []metav1.OwnerReference{ref("exposure.inference.dev/v1alpha1", "InferenceExposure", "triton", false)}},
		{name: "another group's kind of that name", refs: []metav1.OwnerReference{ref("example.com/v1alpha1", "InferenceExposure", "triton", true)}},
		{name: "another kind", refs: []metav1.OwnerReference{ref("apps/v1", "Deployment", "triton", true)}},
		{name: "a nonsense apiVersion", refs: []metav1.OwnerReference{ref("a/b/c", "InferenceExposure", "triton", true)}},
		{name: "the controller among other owners", refs: []metav1.OwnerReference{
			ref("apps/v1", "Deployment", "d", false), ref("exposure.inference.dev/v1alpha1", "InferenceExposure", "vllm", true),
		}, want: "team-a/vllm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "svc", OwnerReferences: tt.refs}}
			got := controllingExposure(context.Background(), svc)
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("queued %v, want nothing", got)
			case tt.want != "" && (len(got) != 1 || got[0].String() != tt.want):
				t.Errorf("queued %v, want %s", got, tt.want)
			}
		})
	}
}

// BenchmarkControllingExposure: the cost of mapping one Service event to its exposure.
func BenchmarkControllingExposure(b *testing.B) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "svc", OwnerReferences: []metav1.OwnerReference{
		{APIVersion: "exposure.inference.dev/v1alpha1", Kind: "InferenceExposure", Name: "triton", UID: "u", Controller: ptr.To(true)},
	}}}
	b.ReportAllocs()
	for b.Loop() {
		controllingExposure(context.Background(), svc)
	}
}
