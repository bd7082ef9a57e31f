package exposure

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

func exposureWithUID(uid string) *exposurev1alpha1.InferenceExposure {
	return &exposurev1alpha1.InferenceExposure{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "triton", UID: types.UID(uid)}}
}

func TestFreshExposures(t *testing.T) {
	for _, tc := range []struct {
		name        string
		created     *exposurev1alpha1.InferenceExposure
		initialList bool
		forget      bool
		routed      *exposurev1alpha1.InferenceExposure
		fresh       bool
	}{
		{name: "created while the process runs", created: exposureWithUID("a"), routed: exposureWithUID("a"), fresh: true},
		{name: "in the initial list: it may control routing objects from before", created: exposureWithUID("a"), initialList: true, routed: exposureWithUID("a")},
		{name: "never seen created", routed: exposureWithUID("a")},
		{name: "recreated under the same name, the create not seen yet", created: exposureWithUID("a"), routed: exposureWithUID("b")},
		{name: "deleted before its first routing", created: exposureWithUID("a"), forget: true, routed: exposureWithUID("a")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f freshExposures
			if tc.created != nil && !f.observe().Create(event.CreateEvent{Object: tc.created, IsInInitialList: tc.initialList}) {
				t.Fatal("the predicate dropped a create")
			}
			if tc.forget {
				f.forget(types.NamespacedName{Namespace: "team", Name: "triton"})
			}
			if got := f.take(tc.routed); got != tc.fresh {
				t.Fatalf("fresh = %v, want %v", got, tc.fresh)
			}
			if f.take(tc.routed) {
				t.Fatal("still fresh after its first routing: a failed status write would leave its objects uncleaned")
			}
			if f.m != nil {
				t.Error("the emptied map is kept, with the room its largest size needed")
			}
		})
	}
}
