package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/csaupgrade"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// childApplier writes the objects the operator owns (Services, routing objects) with
// server-side apply under FieldManager: what the exposure stops asking for disappears from the
// object, what others set stays.
//
// Steady state costs no request. The cache holds no managedFields (memory), so the operator
// cannot read which fields it owns; instead every object it writes carries the hash of the
// apply body (AnnotationApplied). An object is up to date when that hash matches the body the operator
// would send now (nothing was added or dropped since the last apply) and the object holds every
// field of the body with the same value (nobody changed what the operator owns).
type childApplier struct {
	client.Client
	// APIReader reads managedFields, which the cache strips: only before an apply that may
	// drop fields.
	APIReader client.Reader
}

// applyBody is the apply request for a typed desired object: everything it sets, without
// status and the metadata the server fills, plus the hash of that body.
func applyBody(desired client.Object, gvk string) (*unstructured.Unstructured, string, error) {
	raw, err := json.Marshal(desired)
	if err != nil {
		return nil, "", fmt.Errorf("encoding %T: %w", desired, err)
	}
	obj := map[string]any{}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, "", err
	}
	delete(obj, "status")
	u := &unstructured.Unstructured{Object: obj}
	delete(u.Object["metadata"].(map[string]any), "creationTimestamp")
	sum, err := json.Marshal(u.Object)
	if err != nil {
		return nil, "", err
	}
	h := sha256.Sum256(append([]byte(gvk+"\n"), sum...))
	hash := hex.EncodeToString(h[:12])
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[exposurev1alpha1.AnnotationApplied] = hash
	u.SetAnnotations(ann)
	return u, hash, nil
}

// upToDate reports whether live already is what applying body would make it.
func upToDate(live client.Object, body *unstructured.Unstructured, hash string) (bool, error) {
	if live.GetAnnotations()[exposurev1alpha1.AnnotationApplied] != hash {
		return false, nil
	}
	have, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
	if err != nil {
		return false, err
	}
	return contains(have, body.Object), nil
}

// apply makes the object what desired says (live is the cached object of that name, or nil)
// and returns the object as the API server holds it afterwards, and whether it wrote.
//
// A missing object is created: creation is atomic, so an object of that name that someone
// else made meanwhile is never taken over (AlreadyExists goes back to the caller). A change is
// applied; when the body differs from the one last applied (fields may leave the object), the
// fields FieldManager holds through create or update (this version's create, or an earlier
// version's updates) are first moved to its apply entry, so that server-side apply removes
// the ones it no longer sends. That costs one read, and one patch per object once.
func (a *childApplier) apply(ctx context.Context, live, desired client.Object) (client.Object, bool, error) {
	gvk, err := a.GroupVersionKindFor(desired)
	if err != nil {
		return nil, false, err
	}
	body, hash, err := applyBody(desired, gvk.String())
	if err != nil {
		return nil, false, err
	}
	body.SetGroupVersionKind(gvk)
	if live == nil {
		obj := desired.DeepCopyObject().(client.Object)
		ann := obj.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[exposurev1alpha1.AnnotationApplied] = hash
		obj.SetAnnotations(ann)
		if err := a.Create(ctx, obj, client.FieldOwner(FieldManager)); err != nil {
			return nil, false, err
		}
		return obj, true, nil
	}
	ok, err := upToDate(live, body, hash)
	if err != nil {
		return nil, false, err
	}
	if ok {
		return live, false, nil
	}
	if live.GetAnnotations()[exposurev1alpha1.AnnotationApplied] != hash {
		if err := a.takeOver(ctx, live); err != nil {
			return nil, false, err
		}
	}
	if err := a.Apply(ctx, client.ApplyConfigurationFromUnstructured(body), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return nil, false, err
	}
	out := reflect.New(reflect.TypeOf(desired).Elem()).Interface().(client.Object)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(body.Object, out); err != nil {
		return nil, false, fmt.Errorf("decoding the applied %s: %w", gvk.Kind, err)
	}
	return out, true, nil
}

// takenOver remembers, by UID, the objects whose create/update fields this process has moved
// to the apply entry already: after that, only applies write them, and no read is needed.
var takenOver sync.Map

// takeOver moves the fields FieldManager set with create and update (earlier versions, or this
// version's create) to its apply entry, once per object and process.
func (a *childApplier) takeOver(ctx context.Context, cached client.Object) error {
	if _, done := takenOver.Load(cached.GetUID()); done {
		return nil
	}
	live := reflect.New(reflect.TypeOf(cached).Elem()).Interface().(client.Object)
	if err := a.APIReader.Get(ctx, types.NamespacedName{Namespace: cached.GetNamespace(), Name: cached.GetName()}, live); err != nil {
		return client.IgnoreNotFound(err)
	}
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(live, sets.New(FieldManager), FieldManager)
	if err != nil {
		return err
	}
	if patch != nil {
		if err := a.Patch(ctx, live, client.RawPatch(types.JSONPatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("taking over the fields an earlier version set on %s: %w", cached.GetName(), err)
		}
	}
	takenOver.Store(cached.GetUID(), struct{}{})
	return nil
}

// contains reports whether have holds every value of want. Maps may have extra keys (fields
// the API server defaulted or others set); lists must have the same length and hold want's
// items in order.
func contains(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		for k, wv := range w {
			if !contains(h[k], wv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		if len(h) != len(w) {
			return false
		}
		for i := range w {
			if !contains(h[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(normalize(have), normalize(want))
	}
}

// normalize makes numbers comparable whatever their Go type after conversion.
func normalize(v any) any {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int32:
		return int64(n)
	case float64:
		if n == float64(int64(n)) {
			return int64(n)
		}
	}
	return v
}
