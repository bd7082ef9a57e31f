// Package childapply writes the objects the operator owns (Services, routing objects): created
// atomically, then kept with server-side apply under one field manager, with no request in the
// steady state; and it remembers the versions its writes produced, so that their watch events
// do not queue the owner again.
package childapply

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/csaupgrade"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/applycheck"
)

// Applier writes the objects the operator owns (Services, routing objects) with
// server-side apply under exposurev1alpha1.FieldManager: what the exposure stops asking for disappears from the
// object, what others set stays.
//
// Steady state costs no request. The cache holds no managedFields (memory), so the operator
// cannot read which fields it owns; instead every object it writes carries the hash of the
// apply body (AnnotationApplied). An object is up to date when that hash matches the body the operator
// would send now (nothing was added or dropped since the last apply) and the object holds every
// field of the body with the same value (nobody changed what the operator owns). Both checks
// work on the typed objects (package applycheck); the body itself is built only to be sent.
type Applier struct {
	client.Client
	// APIReader reads managedFields, which the cache strips: only before an apply that may
	// drop fields.
	APIReader client.Reader
}

// applyBody is the apply request for a typed desired object: everything it sets, without
// status and the metadata the server fills, with the hash of that body (applycheck.Hash).
func applyBody(desired client.Object, gvk schema.GroupVersionKind, hash string) (*unstructured.Unstructured, error) {
	raw, err := json.Marshal(desired)
	if err != nil {
		return nil, fmt.Errorf("encoding %T: %w", desired, err)
	}
	obj := map[string]any{}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	delete(obj, "status")
	u := &unstructured.Unstructured{Object: obj}
	delete(u.Object["metadata"].(map[string]any), "creationTimestamp")
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[exposurev1alpha1.AnnotationApplied] = hash
	u.SetAnnotations(ann)
	u.SetGroupVersionKind(gvk)
	return u, nil
}

// upToDate reports whether live already is what applying desired (whose body hashes to hash)
// would make it: the body is the one last applied, and live still holds all of it.
func upToDate(live, desired client.Object, hash string) bool {
	return live.GetAnnotations()[exposurev1alpha1.AnnotationApplied] == hash && applycheck.Holds(live, desired)
}

// apply makes the object what desired says (live is the cached object of that name, or nil)
// and returns the object as the API server holds it afterwards, and whether it wrote.
//
// A missing object is created: creation is atomic, so an object of that name that someone
// else made meanwhile is never taken over (AlreadyExists goes back to the caller). A change is
// applied; when the body differs from the one last applied (fields may leave the object), the
// fields exposurev1alpha1.FieldManager holds through its create are first moved to its apply entry, so that
// server-side apply removes the ones it no longer sends. That costs one read per changed body,
// and one patch per object once.
func (a *Applier) Apply(ctx context.Context, live, desired client.Object) (client.Object, bool, error) {
	gvk, err := a.GroupVersionKindFor(desired)
	if err != nil {
		return nil, false, err
	}
	hash, err := applycheck.Hash(desired, gvk.String())
	if err != nil {
		return nil, false, err
	}
	if live == nil {
		obj := desired.DeepCopyObject().(client.Object)
		ann := obj.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[exposurev1alpha1.AnnotationApplied] = hash
		obj.SetAnnotations(ann)
		if err := a.Create(ctx, obj, client.FieldOwner(exposurev1alpha1.FieldManager)); err != nil {
			return nil, false, err
		}
		return obj, true, nil
	}
	if upToDate(live, desired, hash) {
		return live, false, nil
	}
	body, err := applyBody(desired, gvk, hash)
	if err != nil {
		return nil, false, err
	}
	if live.GetAnnotations()[exposurev1alpha1.AnnotationApplied] != hash {
		written, err := a.takeOver(ctx, live)
		if err != nil {
			return nil, false, err
		}
		// The API server may try the apply first on its watch cache's copy, from before the
		// takeover's write. For a Service that try allocates the node ports the apply asks for,
		// and keeps them when the write fails and the apply is tried again on the current object:
		// that try finds them taken ("provided port is already allocated") and they stay leaked
		// until the API server's repair loop runs, minutes later. Carrying the version the
		// takeover wrote makes a try on an older copy stop at the version check, before allocating.
		if written != "" {
			body.SetResourceVersion(written)
		}
	}
	data, err := json.Marshal(body.Object)
	if err != nil {
		return nil, false, err
	}
	// The same apply request as client.Apply would send, answered into the typed object: the
	// response is decoded once (protobuf for built-in kinds), not into a map and converted.
	out := reflect.New(reflect.TypeOf(desired).Elem()).Interface().(client.Object)
	out.SetNamespace(desired.GetNamespace())
	out.SetName(desired.GetName())
	if err := a.Patch(ctx, out, client.RawPatch(types.ApplyPatchType, data), client.FieldOwner(exposurev1alpha1.FieldManager), client.ForceOwnership); err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// takeOver moves the fields exposurev1alpha1.FieldManager set with create (the operator creates its children,
// atomically, and applies them afterwards) to its apply entry, so that an apply removes the
// fields it no longer sends. It runs only when the body to apply changed, and writes once per
// object: afterwards the read finds nothing to move. It returns the resourceVersion it wrote, or
// "" when it wrote nothing.
func (a *Applier) takeOver(ctx context.Context, cached client.Object) (string, error) {
	live := reflect.New(reflect.TypeOf(cached).Elem()).Interface().(client.Object)
	if err := a.APIReader.Get(ctx, types.NamespacedName{Namespace: cached.GetNamespace(), Name: cached.GetName()}, live); err != nil {
		return "", client.IgnoreNotFound(err)
	}
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(live, sets.New(exposurev1alpha1.FieldManager), exposurev1alpha1.FieldManager)
	if err != nil {
		return "", err
	}
	written := ""
	if patch != nil {
		switch err := a.Patch(ctx, live, client.RawPatch(types.JSONPatchType, patch)); {
		case err == nil:
			written = live.GetResourceVersion()
		case !apierrors.IsNotFound(err):
			return "", fmt.Errorf("taking over the fields the operator's create set on %s: %w", cached.GetName(), err)
		}
	}
	return written, nil
}
