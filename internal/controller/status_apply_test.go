package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// managedStatusFields returns, per manager and operation of the status subresource, the FieldsV1 text.
func managedStatusFields(t *testing.T, name string) map[string]string {
	t.Helper()
	return statusManagersOf(getTenant(t, name))
}

func statusManagersOf(obj client.Object) map[string]string {
	out := map[string]string{}
	for _, e := range obj.GetManagedFields() {
		if e.Subresource == "status" && e.FieldsV1 != nil {
			out[e.Manager+"/"+string(e.Operation)] = string(e.FieldsV1.Raw)
		}
	}
	return out
}

// checkStatusManagers: the tenant's status has two apply managers, the HAProxy controller's
// owning HAProxyConfigured alone, and no whole-status Update entry.
func checkStatusManagers(t *testing.T, name string) {
	t.Helper()
	f := managedStatusFields(t, name)
	hp, tn := f[HAProxyStatusManager+"/Apply"], f[StatusManager+"/Apply"]
	switch {
	case !strings.Contains(hp, `HAProxyConfigured`) || strings.Contains(hp, `\"Ready\"`) || strings.Contains(hp, "portBlock"):
		t.Errorf("HAProxy manager fields: %s", hp)
	case strings.Contains(tn, "HAProxyConfigured") || !strings.Contains(tn, `\"Ready\"`) || !strings.Contains(tn, "f:portBlock"):
		t.Errorf("tenant manager fields: %s", tn)
	case f[FieldManager+"/Update"] != "":
		t.Errorf("a whole-status Update entry is left: %v", f)
	}
}

func TestSplitLegacyStatusEntry(t *testing.T) {
	legacy := `{"f:status":{".":{},"f:conditions":{".":{},"k:{\"type\":\"HAProxyConfigured\"}":{".":{},"f:status":{}},"k:{\"type\":\"Ready\"}":{".":{},"f:status":{}}},"f:foreignPorts":{}}}`
	main := metav1.ManagedFieldsEntry{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{}}`)}}
	cases := []struct {
		name    string
		in      []metav1.ManagedFieldsEntry
		changed bool
		want    map[string]string
	}{
		{name: "nothing to move", in: []metav1.ManagedFieldsEntry{main}},
		{
			name: "split into the two apply managers",
			in: []metav1.ManagedFieldsEntry{main, {Manager: FieldManager, Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status",
				FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(legacy)}}},
			changed: true,
			want: map[string]string{
				"kubectl/Update":                `{"f:spec":{}}`,
				StatusManager + "/Apply":        `{"f:status":{".":{},"f:conditions":{".":{},"k:{\"type\":\"Ready\"}":{".":{},"f:status":{}}},"f:foreignPorts":{}}}`,
				HAProxyStatusManager + "/Apply": `{"f:status":{"f:conditions":{"k:{\"type\":\"HAProxyConfigured\"}":{".":{},"f:status":{}}}}}`,
			},
		},
		{
			name: "merged into an apply entry that exists",
			in: []metav1.ManagedFieldsEntry{
				{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(legacy)}},
				{Manager: StatusManager, Operation: metav1.ManagedFieldsOperationApply, Subresource: "status", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:portsUsed":{}}}`)}},
			},
			changed: true,
			want: map[string]string{
				StatusManager + "/Apply":        `{"f:status":{".":{},"f:conditions":{".":{},"k:{\"type\":\"Ready\"}":{".":{},"f:status":{}}},"f:foreignPorts":{},"f:portsUsed":{}}}`,
				HAProxyStatusManager + "/Apply": `{"f:status":{"f:conditions":{"k:{\"type\":\"HAProxyConfigured\"}":{".":{},"f:status":{}}}}}`,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, changed, err := splitLegacyStatusEntry(tc.in)
			if err != nil || changed != tc.changed {
				t.Fatalf("changed %v, err %v", changed, err)
			}
			if !changed {
				return
			}
			got := map[string]string{}
			for _, e := range out {
				got[e.Manager+"/"+string(e.Operation)] = string(e.FieldsV1.Raw)
			}
			for k, v := range tc.want {
				var a, b any
				_ = json.Unmarshal([]byte(got[k]), &a)
				_ = json.Unmarshal([]byte(v), &b)
				if !reflect.DeepEqual(a, b) {
					t.Errorf("%s = %s, want %s", k, got[k], v)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("entries = %v", got)
			}
		})
	}
}

// TestLegacyStatusTakenOver: a tenant whose status an earlier version wrote with a whole-status
// Update (stale foreign ports, a stale HAProxyConfigured) is taken over by the two apply
// managers: what neither writes any more disappears, and no Update entry is left.
func TestLegacyStatusTakenOver(t *testing.T) {
	ctx := context.Background()
	ns, opNS := newNamespace(t, "legacy"), newNamespace(t, "operator")
	cleanupTenants(t, "legacy")
	tn := newTenant("legacy", nil, ptr.To[int32](10), ns)
	create(t, tn)
	tn.Status = exposurev1alpha1.InferenceTenantStatus{
		ForeignPorts: []int32{32766},
		Conditions: []metav1.Condition{
			{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Ready", Message: "old", LastTransitionTime: metav1.Now()},
			{Type: "HAProxyConfigured", Status: metav1.ConditionTrue, Reason: "Rendered", Message: "old", LastTransitionTime: metav1.Now()},
		},
	}
	if err := k8s.Status().Update(ctx, tn, client.FieldOwner(FieldManager)); err != nil {
		t.Fatal(err)
	}
	if f := managedStatusFields(t, "legacy"); f[FieldManager+"/Update"] == "" {
		t.Fatalf("the old code path left no Update entry: %v", f)
	}

	startManager(t, Options{Pool: mustPool(t, 32700, 32799), DefaultBlockSize: 10, MaxConcurrent: 1, HAProxy: haproxySettings(opNS)})
	eventually(t, "the stale fields gone", func() (bool, string) {
		st := getTenant(t, "legacy").Status
		return st.PortBlock != nil && len(st.ForeignPorts) == 0 && condition(st.Conditions, "HAProxyConfigured") == "" &&
			strings.HasPrefix(condition(st.Conditions, "Ready"), "True"), condition(st.Conditions, "HAProxyConfigured") + " " + condition(st.Conditions, "Ready")
	})
	f := managedStatusFields(t, "legacy")
	if f[FieldManager+"/Update"] != "" || !strings.Contains(f[StatusManager+"/Apply"], "f:portBlock") {
		t.Fatalf("managers after the takeover: %v", f)
	}
}

// TestLegacyExposureStatusTakenOver: an exposure whose status an earlier version wrote with a
// whole-status Update (a stale URL, a stale HAProxyFrontend) is taken over by the two apply
// managers on its next status change; what neither writes any more disappears.
func TestLegacyExposureStatusTakenOver(t *testing.T) {
	ctx := context.Background()
	ns, opNS := newNamespace(t, "legacy-exp"), newNamespace(t, "operator")
	cleanupServices(t, ns)
	cleanupTenants(t, "legacy-exp")
	create(t, newTenant("legacy-exp", nil, ptr.To[int32](10), ns))
	e := newExposure(ns, "triton", ptr.To[int32](8000), nil, nil)
	create(t, e)
	e.Status = exposurev1alpha1.InferenceExposureStatus{
		URL: "https://stale.example.com/",
		Conditions: []metav1.Condition{
			{Type: "Ready", Status: metav1.ConditionFalse, Reason: "NotReady", Message: "old", LastTransitionTime: metav1.Now()},
			{Type: "HAProxyFrontend", Status: metav1.ConditionFalse, Reason: "BindConflict", Message: "old", LastTransitionTime: metav1.Now()},
		},
	}
	if err := k8s.Status().Update(ctx, e, client.FieldOwner(FieldManager)); err != nil {
		t.Fatal(err)
	}

	startManager(t, Options{Pool: mustPool(t, 32700, 32799), DefaultBlockSize: 10, MaxConcurrent: 1, HAProxy: haproxySettings(opNS)})
	eventually(t, "the stale fields gone", func() (bool, string) {
		st := getExposure(t, ns, "triton").Status
		return st.URL == "" && condition(st.Conditions, "HAProxyFrontend") == "" && strings.HasPrefix(condition(st.Conditions, "Ready"), "True"),
			st.URL + " " + condition(st.Conditions, "HAProxyFrontend") + " " + condition(st.Conditions, "Ready")
	})
	f := statusManagersOf(getExposure(t, ns, "triton"))
	if f[FieldManager+"/Update"] != "" || !strings.Contains(f[StatusManager+"/Apply"], "f:nodePorts") || strings.Contains(f[StatusManager+"/Apply"], "HAProxyFrontend") {
		t.Fatalf("managers after the takeover: %v", f)
	}
}

// BenchmarkApplyStatus: one status write of an exposure with the conditions of a Ready one,
// against the API server (envtest). Each iteration writes (the message alternates).
func BenchmarkApplyStatus(b *testing.B) {
	ctx := context.Background()
	ns := newNamespace(b, "status-bench")
	exp := newExposure(ns, "triton", ptr.To[int32](8000), ptr.To[int32](8001), ptr.To[int32](8002))
	if err := k8s.Create(ctx, exp); err != nil {
		b.Fatal(err)
	}
	status := func(i int) *exposurev1alpha1.InferenceExposureStatus {
		st := &exposurev1alpha1.InferenceExposureStatus{ObservedGeneration: 1, Tenant: "alpha", ServiceName: "triton",
			NodePorts: &exposurev1alpha1.NodePorts{HTTP: 30800, GRPC: 30801, Metrics: 30802}}
		for _, typ := range []string{exposurev1alpha1.ConditionTenantResolved, exposurev1alpha1.ConditionPortsAllocated, exposurev1alpha1.ConditionServiceReady,
			exposurev1alpha1.ConditionRouted, exposurev1alpha1.ConditionIngressReady, exposurev1alpha1.ConditionReady} {
			st.Conditions = append(st.Conditions, metav1.Condition{Type: typ, Status: metav1.ConditionTrue, ObservedGeneration: 1,
				LastTransitionTime: metav1.Now(), Reason: "Applied", Message: typ + " is in place, write " + string(rune('a'+i%2))})
		}
		return st
	}
	have := exp.Status.DeepCopy()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		want := status(i)
		written, err := applyStatusVersion(ctx, k8s, exp, have, want, StatusManager)
		if err != nil || written == nil {
			b.Fatal("not written:", err)
		}
		exp.ResourceVersion = written.GetResourceVersion()
		have = want
		i++
	}
}

// TestNoteLegacyStatusEntry: the cache transform records exactly the objects that carry an
// earlier version's whole-status Update entry, and forgets one once an event comes without it.
func TestNoteLegacyStatusEntry(t *testing.T) {
	legacy := metav1.ManagedFieldsEntry{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{}}`)}}
	applied := metav1.ManagedFieldsEntry{Manager: StatusManager, Operation: metav1.ManagedFieldsOperationApply, Subresource: "status", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{}}`)}}
	finalizer := metav1.ManagedFieldsEntry{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{}}`)}}
	noted := func(uid string) bool { _, ok := legacyStatusEntries.Load(types.UID(uid)); return ok }
	transform := func(uid string, entries ...metav1.ManagedFieldsEntry) {
		t.Helper()
		exp := &exposurev1alpha1.InferenceExposure{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "triton", UID: types.UID(uid), ManagedFields: entries}}
		out, err := stripExposure(exp)
		if err != nil || len(out.(*exposurev1alpha1.InferenceExposure).ManagedFields) != 0 {
			t.Fatalf("transform: %v, managedFields left: %v", err, out)
		}
	}
	transform("note-a", applied, legacy)
	transform("note-b", applied, finalizer) // the operator's Update of the main resource is no status entry
	if !noted("note-a") || noted("note-b") {
		t.Fatalf("noted a: %v, b: %v", noted("note-a"), noted("note-b"))
	}
	transform("note-a", applied) // the migration's patch came back
	if noted("note-a") {
		t.Fatal("still noted after an event without the entry")
	}
}

// BenchmarkUnchangedStatus: what a reconcile that changes nothing pays to find that out, for an
// exposure's status with nine conditions (no request is made).
func BenchmarkUnchangedStatus(b *testing.B) {
	have := &exposurev1alpha1.InferenceExposureStatus{ObservedGeneration: 1, Tenant: "alpha", ServiceName: "triton",
		NodePorts: &exposurev1alpha1.NodePorts{HTTP: 30800, GRPC: 30801, Metrics: 30802}}
	for i := range 9 {
		have.Conditions = append(have.Conditions, metav1.Condition{Type: fmt.Sprintf("Condition%d", i), Status: metav1.ConditionTrue,
			ObservedGeneration: 1, LastTransitionTime: metav1.Now(), Reason: "InPlace", Message: "the condition's message, as long as most"})
	}
	want := have.DeepCopy()
	b.ReportAllocs()
	for b.Loop() {
		if written, err := applyStatusVersion(context.Background(), nil, nil, have, want, StatusManager); written != nil || err != nil {
			b.Fatal(written, err)
		}
	}
}

// TestUnchangedStatusNotWritten: equal statuses, and statuses that differ only in the other
// manager's part, make no request (the client is nil: a request would panic).
func TestUnchangedStatusNotWritten(t *testing.T) {
	have := &exposurev1alpha1.InferenceExposureStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{
		{Type: exposurev1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Ready", LastTransitionTime: metav1.Unix(100, 0)},
		{Type: exposurev1alpha1.ConditionHAProxyFrontend, Status: metav1.ConditionTrue, Reason: "Rendered", LastTransitionTime: metav1.Unix(100, 0)},
	}}
	same := have.DeepCopy()
	otherManager := have.DeepCopy()
	otherManager.Conditions[1].Reason = "Skipped"
	for name, want := range map[string]*exposurev1alpha1.InferenceExposureStatus{"equal": same, "only the HAProxy part differs": otherManager} {
		if written, err := applyStatusVersion(context.Background(), nil, nil, have, want, StatusManager); written != nil || err != nil {
			t.Errorf("%s: written %v, %v", name, written, err)
		}
	}
}

// referenceStatusFields is how the manager's part of a status was built before statusPart:
// through the unstructured form, whose JSON is what the API server received.
func referenceStatusFields(t testing.TB, status any, manager string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(referenceStatusJSON(t, status, manager), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// referenceStatusJSON is the JSON referenceStatusFields decodes.
func referenceStatusJSON(t testing.TB, status any, manager string) []byte {
	t.Helper()
	all, err := runtime.DefaultUnstructuredConverter.ToUnstructured(status)
	if err != nil {
		t.Fatal(err)
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
	conds, _ := all["conditions"].([]any)
	var mine []any
	for _, c := range conds {
		typ, _ := c.(map[string]any)["type"].(string)
		if slices.Contains(haproxyConditions, typ) == haproxy {
			mine = append(mine, c)
		}
	}
	if len(mine) > 0 {
		out["conditions"] = mine
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStatusPartMatchesUnstructured: the typed encoding of each manager's part of tenant and
// exposure statuses says what the unstructured one said, for full, empty and partial statuses.
func TestStatusPartMatchesUnstructured(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 11, 23, 1, 2, 3, 0, time.UTC))
	cond := func(typ string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, ObservedGeneration: 2, LastTransitionTime: now, Reason: "R", Message: typ + " <&> \u2028"}
	}
	statuses := map[string]any{
		"empty exposure": &exposurev1alpha1.InferenceExposureStatus{},
		"full exposure": &exposurev1alpha1.InferenceExposureStatus{ObservedGeneration: 3, Tenant: "alpha", ServiceName: "triton",
			NodePorts: &exposurev1alpha1.NodePorts{HTTP: 30800, GRPC: 30801}, URL: "https://a.example.com", GRPCAddress: "a:443",
			Router:     &exposurev1alpha1.RouterStatus{Type: exposurev1alpha1.RouterIngress, Host: "a.example.com", Objects: []string{"Ingress/a"}},
			Conditions: []metav1.Condition{cond(exposurev1alpha1.ConditionReady), cond(exposurev1alpha1.ConditionHAProxyFrontend), cond(exposurev1alpha1.ConditionTenantResolved)}},
		"exposure, only HAProxy conditions": &exposurev1alpha1.InferenceExposureStatus{Conditions: []metav1.Condition{cond(exposurev1alpha1.ConditionHAProxyFrontend)}},
		"exposure, empty slices":            &exposurev1alpha1.InferenceExposureStatus{Router: &exposurev1alpha1.RouterStatus{Objects: []string{}}, NodePorts: &exposurev1alpha1.NodePorts{}, Conditions: []metav1.Condition{}},
		"empty tenant":                      &exposurev1alpha1.InferenceTenantStatus{},
		"full tenant": &exposurev1alpha1.InferenceTenantStatus{ObservedGeneration: 1, PortBlock: &exposurev1alpha1.PortBlockStatus{Start: 30800, End: 30899, Size: 100},
			PortsUsed: 3, PortsFree: 97, ForeignPorts: []int32{30850}, Namespaces: []string{"a", "b"},
			Conditions: []metav1.Condition{cond(exposurev1alpha1.ConditionHAProxyConfigured), cond(exposurev1alpha1.ConditionReady)}},
	}
	for name, st := range statuses {
		for _, manager := range []string{StatusManager, HAProxyStatusManager} {
			t.Run(name+"/"+manager, func(t *testing.T) {
				b, err := statusPart(st, manager)
				if err != nil {
					t.Fatal(err)
				}
				var got any
				if err := json.Unmarshal(b, &got); err != nil {
					t.Fatal(err)
				}
				if want := referenceStatusFields(t, st, manager); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s\nwant %v", b, want)
				}
			})
		}
	}
	if _, err := statusPart(&exposurev1alpha1.InferenceExposureSpec{}, StatusManager); err == nil {
		t.Error("a spec was taken for a status")
	}
}

// BenchmarkStatusPart: deciding whether an exposure's status changed for its manager (both
// parts encoded), typed against through the unstructured form as before.
func BenchmarkStatusPart(b *testing.B) {
	st := &exposurev1alpha1.InferenceExposureStatus{ObservedGeneration: 1, Tenant: "alpha", ServiceName: "triton",
		NodePorts: &exposurev1alpha1.NodePorts{HTTP: 30800, GRPC: 30801, Metrics: 30802}}
	for _, typ := range []string{exposurev1alpha1.ConditionTenantResolved, exposurev1alpha1.ConditionPortsAllocated, exposurev1alpha1.ConditionServiceReady,
		exposurev1alpha1.ConditionRouted, exposurev1alpha1.ConditionIngressReady, exposurev1alpha1.ConditionGRPCIngressReady,
		exposurev1alpha1.ConditionHAProxyFrontend, exposurev1alpha1.ConditionReady} {
		st.Conditions = append(st.Conditions, metav1.Condition{Type: typ, Status: metav1.ConditionTrue, ObservedGeneration: 1,
			LastTransitionTime: metav1.Now(), Reason: "Applied", Message: typ + " is in place"})
	}
	b.Run("typed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for range 2 {
				if _, err := statusPart(st, StatusManager); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("unstructured", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for range 2 {
				referenceStatusJSON(b, st, StatusManager)
			}
		}
	})
}
