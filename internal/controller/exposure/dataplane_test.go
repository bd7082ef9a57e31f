package exposure

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
)

// TestSettle: a routing condition that no controller has reported on yet.
func TestSettle(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	timeout := 2 * time.Minute
	pending := router.Verdict{Status: metav1.ConditionUnknown, Reason: exposurev1alpha1.ReasonPending, Message: "no ingress controller has published an address for Ingress triton yet"}
	class := server{name: "IngressClass nginx", hint: " (hint)"}
	unknownSince := func(ago time.Duration) *metav1.Condition {
		return &metav1.Condition{Status: metav1.ConditionUnknown, Reason: exposurev1alpha1.ReasonPending, LastTransitionTime: metav1.NewTime(now.Add(-ago))}
	}
	cases := []struct {
		name     string
		srv      server
		prev     *metav1.Condition
		status   metav1.ConditionStatus
		reason   string
		contains string
		after    time.Duration
	}{
		{"a new wait", class, nil, metav1.ConditionUnknown, exposurev1alpha1.ReasonPending, "Ingress triton", timeout},
		{"a wait after a True (the address went)", class, &metav1.Condition{Status: metav1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}, metav1.ConditionUnknown, exposurev1alpha1.ReasonPending, "", timeout},
		{"still within the timeout", class, unknownSince(90 * time.Second), metav1.ConditionUnknown, exposurev1alpha1.ReasonPending, "", 30 * time.Second},
		{"past the timeout: stalled, naming the class", class, unknownSince(timeout), metav1.ConditionFalse, exposurev1alpha1.ReasonNoControllerReport, "after 2m0s: check that the controller of IngressClass nginx runs and serves this namespace (hint)", stalledRecheck},
		{"stalled stays stalled", class, &metav1.Condition{Status: metav1.ConditionFalse, Reason: exposurev1alpha1.ReasonNoControllerReport, Message: "earlier"}, metav1.ConditionFalse, exposurev1alpha1.ReasonNoControllerReport, "earlier", stalledRecheck},
		{"a class that never reports", server{name: "IngressClass haproxy", silent: true}, unknownSince(time.Hour), metav1.ConditionTrue, exposurev1alpha1.ReasonNotConfirmed, "IngressClass haproxy says its controller writes no status", 0},
		{"a Gateway that does not exist", server{name: "Gateway infra/gw", missing: "Gateway infra/gw does not exist", missingReason: exposurev1alpha1.ReasonGatewayNotFound}, nil, metav1.ConditionFalse, exposurev1alpha1.ReasonGatewayNotFound, "does not exist", stalledRecheck},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, after := settle(pending, tc.srv, tc.prev, now, timeout)
			if v.Status != tc.status || v.Reason != tc.reason || !strings.Contains(v.Message, tc.contains) || after != tc.after {
				t.Errorf("got %s %s %q, again after %s; want %s %s containing %q, after %s", v.Status, v.Reason, v.Message, after, tc.status, tc.reason, tc.contains, tc.after)
			}
		})
	}
}
