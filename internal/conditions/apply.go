package conditions

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// The status of tenants and exposures has two writers, each with a field manager of its own:
// the object's own controller (everything but the HAProxy conditions) and the HAProxy
// controller (HAProxyConfigured on tenants, HAProxyFrontend on exposures). Each applies only
// its fields with server-side apply, so neither undoes the other's.
const (
	// StatusManager writes the status of tenants and exposures, but the HAProxy conditions.
	StatusManager = exposurev1alpha1.FieldManager
	// HAProxyStatusManager writes the HAProxy conditions.
	HAProxyStatusManager = exposurev1alpha1.FieldManager + "-haproxy"
)

// haproxyConditions are the condition types the HAProxy controller writes.
var haproxyConditions = []string{exposurev1alpha1.ConditionHAProxyConfigured, exposurev1alpha1.ConditionHAProxyFrontend}

// statusPart is the JSON of the part of a status (*InferenceTenantStatus or
// *InferenceExposureStatus) that manager owns, as it goes into an apply body: the HAProxy
// manager owns its conditions, the status manager every other field and condition. It is
// encoded from the typed status: every field of both is a scalar, a pointer, a slice or a
// string map, so it is the JSON of its unstructured form with the keys in another order.
func statusPart(status any, manager string) ([]byte, error) {
	switch st := status.(type) {
	case *exposurev1alpha1.InferenceExposureStatus:
		return typedStatusPart(*st, st.Conditions, func(s *exposurev1alpha1.InferenceExposureStatus, c []metav1.Condition) { s.Conditions = c }, manager)
	case *exposurev1alpha1.InferenceTenantStatus:
		return typedStatusPart(*st, st.Conditions, func(s *exposurev1alpha1.InferenceTenantStatus, c []metav1.Condition) { s.Conditions = c }, manager)
	}
	return nil, fmt.Errorf("no status apply for %T", status)
}

// typedStatusPart encodes manager's part of the status st, whose conditions are conds;
// setConditions replaces them in a copy.
func typedStatusPart[S any](st S, conds []metav1.Condition, setConditions func(*S, []metav1.Condition), manager string) ([]byte, error) {
	haproxy := manager == HAProxyStatusManager
	var mine []metav1.Condition
	for i := range conds {
		if slices.Contains(haproxyConditions, conds[i].Type) == haproxy {
			mine = append(mine, conds[i])
		}
	}
	if haproxy {
		return json.Marshal(haproxyStatusPart{Conditions: mine})
	}
	setConditions(&st, mine)
	return json.Marshal(st)
}

// haproxyStatusPart is what the HAProxy manager applies of a status.
type haproxyStatusPart struct {
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ApplyStatus writes manager's part of the status of obj (have is its status now, want the
// new one) with server-side apply, unless that part is unchanged (the quiet steady state: no
// request at all). The object's UID and resourceVersion are part of the body: an object
// recreated under the same name, or changed since it was read, is not written (Conflict).
func ApplyStatus(ctx context.Context, c client.Client, obj client.Object, have, want any, manager string) error {
	_, err := ApplyStatusVersion(ctx, c, obj, have, want, manager)
	return err
}

// ApplyStatusVersion is ApplyStatus returning the object's metadata as the API server holds it
// after the write (its new resourceVersion), nil when nothing was written.
func ApplyStatusVersion(ctx context.Context, c client.Client, obj client.Object, have, want any, manager string) (client.Object, error) {
	// A status that did not change at all (a reconcile that found everything in place, every
	// exposure after a restart) needs no look at the manager's part, which encodes both
	// statuses. (reflect.DeepEqual, not the semantic one: a false "different" only costs the
	// full comparison below.)
	if reflect.DeepEqual(have, want) {
		return nil, nil
	}
	h, err := statusPart(have, manager)
	if err != nil {
		return nil, err
	}
	w, err := statusPart(want, manager)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(h, w) {
		return nil, nil
	}
	gvk, err := c.GroupVersionKindFor(obj)
	if err != nil {
		return nil, err
	}
	// The resourceVersion the decision was made from: a status computed from a stale cache
	// (another operator process wrote meanwhile, or the other manager) is refused with a
	// Conflict and recomputed, as an update would be.
	meta := map[string]any{"name": obj.GetName(), "uid": string(obj.GetUID()), "resourceVersion": obj.GetResourceVersion()}
	if obj.GetNamespace() != "" {
		meta["namespace"] = obj.GetNamespace()
	}
	body, err := json.Marshal(map[string]any{"apiVersion": gvk.GroupVersion().String(), "kind": gvk.Kind, "metadata": meta, "status": json.RawMessage(w)})
	if err != nil {
		return nil, err
	}
	// Sent through the metadata client: the API server answers with the object's metadata
	// only, which is all the caller reads, instead of the whole object to encode and decode.
	written := &metav1.PartialObjectMetadata{}
	written.SetGroupVersionKind(gvk)
	written.Namespace, written.Name = obj.GetNamespace(), obj.GetName()
	if err := c.Status().Patch(ctx, written, client.RawPatch(types.ApplyPatchType, body), client.FieldOwner(manager), client.ForceOwnership); err != nil {
		return nil, fmt.Errorf("applying %s status: %w", gvk.Kind, err)
	}
	return written, nil
}
