package exposure

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// enqueueControllingExposure queues the exposure that controls an object (a Service or a
// routing object), as handler.EnqueueRequestForOwner with OnlyControllerOwner does, also for
// both sides of an update. That handler asks the REST mapper on every event whether the owner's
// kind is namespaced, and the answer allocates on every event; an exposure is always
// namespaced, so nothing needs asking.
var enqueueControllingExposure = handler.EnqueueRequestsFromMapFunc(controllingExposure)

// controllingExposure names the exposure in the object's namespace that its controller
// reference points to, if that reference is to an InferenceExposure of any version of the
// operator's API group.
func controllingExposure(_ context.Context, obj client.Object) []reconcile.Request {
	ref := metav1.GetControllerOfNoCopy(obj)
	if ref == nil || ref.Kind != "InferenceExposure" {
		return nil
	}
	if gv, err := schema.ParseGroupVersion(ref.APIVersion); err != nil || gv.Group != exposurev1alpha1.GroupVersion.Group {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: ref.Name}}}
}
