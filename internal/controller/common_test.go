package controller

import (
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// TestConditionSet: Events and log lines go out once per change; a False condition is logged
// with the object, Failed warns, Waiting and Unknown are quiet, True after False is Normal.
func TestConditionSet(t *testing.T) {
	var lines []string
	ctx := logf.IntoContext(context.Background(), funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{}))
	rec := record.NewFakeRecorder(10)
	exp := &exposurev1alpha1.InferenceExposure{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "triton"}}
	var list []metav1.Condition
	c := conditionsOf(ctx, rec, exp, &list, 1)

	c.Waiting("PortsAllocated", "BlockPending", "waiting")
	c.Failed("Routed", "HostConflict", "host taken")
	c.Failed("Routed", "HostConflict", "host taken") // no change: nothing again
	c.Unknown("ServiceReady", "NotReady", "later")
	c.True("Routed", "Routed", "in place")
	c.True("PortsAllocated", "Allocated", "ports") // the end of a wait: no Event

	var events []string
	for len(rec.Events) > 0 {
		events = append(events, <-rec.Events)
	}
	if strings.Join(events, "|") != "Warning HostConflict host taken|Normal Routed in place" {
		t.Errorf("events = %q", events)
	}
	if len(lines) != 2 || !strings.Contains(lines[0], `"reason"="BlockPending"`) || !strings.Contains(lines[1], `"reason"="HostConflict"`) ||
		!strings.Contains(lines[1], `"name"="triton"`) {
		t.Errorf("log lines = %q", lines)
	}
	if len(list) != 3 {
		t.Errorf("conditions = %v", list)
	}
}

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
