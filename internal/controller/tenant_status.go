package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// A tenant's status has two writers, each with a field manager of its own: the tenant
// controller (block, usage, namespaces and every condition but one) and the HAProxy controller
// (HAProxyConfigured). Each applies only its fields with server-side apply, so neither undoes
// the other's.
const (
	// TenantStatusManager writes everything in a tenant's status but HAProxyConfigured.
	TenantStatusManager = FieldManager
	// HAProxyStatusManager writes a tenant's HAProxyConfigured condition.
	HAProxyStatusManager = FieldManager + "-haproxy"
)

// haproxyTenantConditions are the tenant condition types the HAProxy controller writes.
var haproxyTenantConditions = []string{exposurev1alpha1.ConditionHAProxyConfigured}

// tenantStatusFields is the part of status that manager owns, as an apply body: the HAProxy
// manager owns its conditions, the tenant manager every other field and condition.
func tenantStatusFields(status *exposurev1alpha1.InferenceTenantStatus, manager string) (map[string]any, error) {
	all, err := runtime.DefaultUnstructuredConverter.ToUnstructured(status)
	if err != nil {
		return nil, err
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
	var conds []any
	for i, c := range status.Conditions {
		if slices.Contains(haproxyTenantConditions, c.Type) == haproxy {
			conds = append(conds, all["conditions"].([]any)[i])
		}
	}
	if len(conds) > 0 {
		out["conditions"] = conds
	}
	return out, nil
}

// applyTenantStatus writes manager's part of status with server-side apply, unless it equals
// what the tenant already shows (the quiet steady state: no request at all). The tenant's UID
// is part of the body, so a tenant deleted and recreated under the same name is not written.
func applyTenantStatus(ctx context.Context, c client.Client, t *exposurev1alpha1.InferenceTenant, status *exposurev1alpha1.InferenceTenantStatus, manager string) error {
	have, err := tenantStatusFields(&t.Status, manager)
	if err != nil {
		return err
	}
	want, err := tenantStatusFields(status, manager)
	if err != nil {
		return err
	}
	if equalJSON(have, want) {
		return nil
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": exposurev1alpha1.GroupVersion.String(),
		"kind":       "InferenceTenant",
		"metadata":   map[string]any{"name": t.Name, "uid": string(t.UID)},
		"status":     want,
	}}
	if err := c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(manager), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying tenant status: %w", err)
	}
	return nil
}

func equalJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// legacyStatusMigration moves the status fields written by earlier versions (a whole-status
// Update, recorded as an Update entry of FieldManager) to the two apply managers, once per
// tenant and process, before either controller applies. Without it that Update entry would keep co-owning every field, and a
// field the operator stops writing would never go away.
type legacyStatusMigration struct {
	reader client.Reader
	writer client.Client
	done   sync.Map // tenant UID -> struct{}
}

func (m *legacyStatusMigration) migrate(ctx context.Context, t *exposurev1alpha1.InferenceTenant) error {
	if m == nil {
		return nil
	}
	if _, ok := m.done.Load(t.UID); ok {
		return nil
	}
	// The cache strips managedFields: read them from the API server, once per process.
	live := &exposurev1alpha1.InferenceTenant{}
	if err := m.reader.Get(ctx, types.NamespacedName{Name: t.Name}, live); err != nil {
		return client.IgnoreNotFound(err)
	}
	entries, changed, err := splitLegacyStatusEntry(live.ManagedFields)
	if err != nil {
		return err
	}
	if changed {
		patch, err := json.Marshal([]map[string]any{
			{"op": "test", "path": "/metadata/resourceVersion", "value": live.ResourceVersion},
			{"op": "replace", "path": "/metadata/managedFields", "value": entries},
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
	m.done.Store(t.UID, struct{}{})
	return nil
}

// splitLegacyStatusEntry turns FieldManager's Update entry of the status subresource into
// Apply entries: HAProxyConfigured to HAProxyStatusManager, the rest to TenantStatusManager
// (merged into Apply entries that already exist). changed is false when there is none.
func splitLegacyStatusEntry(in []metav1.ManagedFieldsEntry) ([]metav1.ManagedFieldsEntry, bool, error) {
	idx := slices.IndexFunc(in, func(e metav1.ManagedFieldsEntry) bool {
		return e.Manager == FieldManager && e.Operation == metav1.ManagedFieldsOperationUpdate && e.Subresource == "status" && e.FieldsV1 != nil
	})
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
			for _, typ := range haproxyTenantConditions {
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
	if err := add(TenantStatusManager, fields); err != nil {
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
