package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	StatusManager = FieldManager
	// HAProxyStatusManager writes the HAProxy conditions.
	HAProxyStatusManager = FieldManager + "-haproxy"
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

// applyStatus writes manager's part of the status of obj (have is its status now, want the
// new one) with server-side apply, unless that part is unchanged (the quiet steady state: no
// request at all). The object's UID and resourceVersion are part of the body: an object
// recreated under the same name, or changed since it was read, is not written (Conflict).
func applyStatus(ctx context.Context, c client.Client, obj client.Object, have, want any, manager string) error {
	_, err := applyStatusVersion(ctx, c, obj, have, want, manager)
	return err
}

// applyStatusVersion is applyStatus returning the object's metadata as the API server holds it
// after the write (its new resourceVersion), nil when nothing was written.
func applyStatusVersion(ctx context.Context, c client.Client, obj client.Object, have, want any, manager string) (client.Object, error) {
	// A status that did not change at all (a reconcile that found everything in place, every
	// exposure after a restart) needs no look at the manager's part: 2 µs and no allocation
	// instead of 66 µs and 25 KB for an exposure's nine conditions. (reflect.DeepEqual, not the
	// semantic one: a false "different" only costs the full comparison below.)
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

// legacyStatusMigration moves the status fields written by earlier versions (a whole-status
// Update, recorded as an Update entry of FieldManager) to the two apply managers, before
// either controller applies. Without it that Update entry would keep co-owning every field,
// and a field the operator stops writing would never go away.
type legacyStatusMigration struct {
	reader client.Reader
	writer client.Client
}

// legacyStatusEntries holds the UIDs of the tenants and exposures whose managedFields, as the
// cache last received them, include that Update entry. The cache strips managedFields, so its
// transform notes the entry on the way in (noteLegacyStatusEntry): the migration reads and
// patches only these objects, and keeps no record of the others (a record per object that
// only grew: 1.5 MB at 10,000 exposures, and more with every exposure ever created).
var legacyStatusEntries sync.Map // UID -> struct{}

// noteLegacyStatusEntry records whether obj's managedFields hold a legacy status entry; the
// cache transform calls it before it drops them.
func noteLegacyStatusEntry(obj metav1.Object) {
	if slices.ContainsFunc(obj.GetManagedFields(), isLegacyStatusEntry) {
		legacyStatusEntries.Store(obj.GetUID(), struct{}{})
	} else {
		legacyStatusEntries.Delete(obj.GetUID())
	}
}

func isLegacyStatusEntry(e metav1.ManagedFieldsEntry) bool {
	return e.Manager == FieldManager && e.Operation == metav1.ManagedFieldsOperationUpdate && e.Subresource == "status" && e.FieldsV1 != nil
}

// migrate moves the legacy entry of an object the cache saw with one. It reads the object's
// managedFields first: the cache has none, and a watch event may be older than the patch.
func (m *legacyStatusMigration) migrate(ctx context.Context, obj client.Object) error {
	if m == nil {
		return nil
	}
	if _, ok := legacyStatusEntries.Load(obj.GetUID()); !ok {
		return nil
	}
	live := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(client.Object)
	if err := m.reader.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}, live); err != nil {
		if apierrors.IsNotFound(err) {
			legacyStatusEntries.Delete(obj.GetUID())
		}
		return client.IgnoreNotFound(err)
	}
	entries, changed, err := splitLegacyStatusEntry(live.GetManagedFields())
	if err != nil {
		return err
	}
	if changed {
		// Replacing the resourceVersion makes a concurrent write a Conflict (retried).
		patch, err := json.Marshal([]map[string]any{
			{"op": "replace", "path": "/metadata/managedFields", "value": entries},
			{"op": "replace", "path": "/metadata/resourceVersion", "value": live.GetResourceVersion()},
		})
		if err != nil {
			return err
		}
		if err := m.writer.Patch(ctx, live, client.RawPatch(types.JSONPatchType, patch)); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("moving the status fields of earlier versions to server-side apply: %w", err)
		}
	}
	legacyStatusEntries.Delete(obj.GetUID())
	return nil
}

// splitLegacyStatusEntry turns FieldManager's Update entry of the status subresource into
// Apply entries: the HAProxy conditions to HAProxyStatusManager, the rest to StatusManager
// (merged into Apply entries that already exist). changed is false when there is none.
func splitLegacyStatusEntry(in []metav1.ManagedFieldsEntry) ([]metav1.ManagedFieldsEntry, bool, error) {
	idx := slices.IndexFunc(in, isLegacyStatusEntry)
	if idx < 0 {
		return in, false, nil
	}
	legacy := in[idx]
	var fields map[string]any
	if err := json.Unmarshal(legacy.FieldsV1.Raw, &fields); err != nil {
		return nil, false, fmt.Errorf("reading managed fields: %w", err)
	}
	haproxy := map[string]any{}
	if status, ok := fields["f:status"].(map[string]any); ok {
		if conds, ok := status["f:conditions"].(map[string]any); ok {
			for _, typ := range haproxyConditions {
				key := fmt.Sprintf(`k:{"type":%q}`, typ)
				if v, ok := conds[key]; ok {
					haproxy[key] = v
					delete(conds, key)
				}
			}
		}
	}
	out := slices.Delete(slices.Clone(in), idx, idx+1)
	add := func(manager string, f map[string]any) error {
		i := slices.IndexFunc(out, func(e metav1.ManagedFieldsEntry) bool {
			return e.Manager == manager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "status"
		})
		if i >= 0 && out[i].FieldsV1 != nil {
			var existing map[string]any
			if err := json.Unmarshal(out[i].FieldsV1.Raw, &existing); err != nil {
				return fmt.Errorf("reading managed fields: %w", err)
			}
			f = unionFields(existing, f)
		}
		raw, err := json.Marshal(f)
		if err != nil {
			return err
		}
		e := metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: legacy.APIVersion,
			Time: legacy.Time, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: raw}, Subresource: "status"}
		if i >= 0 {
			out[i] = e
		} else {
			out = append(out, e)
		}
		return nil
	}
	if err := add(StatusManager, fields); err != nil {
		return nil, false, err
	}
	if len(haproxy) > 0 {
		if err := add(HAProxyStatusManager, map[string]any{"f:status": map[string]any{"f:conditions": haproxy}}); err != nil {
			return nil, false, err
		}
	}
	return out, true, nil
}

// unionFields merges two FieldsV1 trees.
func unionFields(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		am, aok := out[k].(map[string]any)
		bm, bok := v.(map[string]any)
		if aok && bok {
			out[k] = unionFields(am, bm)
			continue
		}
		out[k] = v
	}
	return out
}
