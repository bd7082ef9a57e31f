package envoygateway

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TestDeepCopy: a copy shares nothing a write to it could change in the original.
func TestDeepCopy(t *testing.T) {
	d, s := gatewayv1.Duration("5m"), gatewayv1.SectionName("https")
	p := &BackendTrafficPolicy{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"k": "v"}},
		Spec: BackendTrafficPolicySpec{
			TargetRefs: []gatewayv1.LocalPolicyTargetReferenceWithSectionName{{SectionName: &s}},
			Timeout:    &Timeout{HTTP: &HTTPTimeout{RequestTimeout: &d, StreamIdleTimeout: &d}}},
		Status: gatewayv1.PolicyStatus{Ancestors: []gatewayv1.PolicyAncestorStatus{{Conditions: []metav1.Condition{{Type: "Accepted"}}}}}}
	c := p.DeepCopyObject().(*BackendTrafficPolicy)
	if !equality.Semantic.DeepEqual(p, c) {
		t.Fatal("the copy differs")
	}
	*c.Spec.TargetRefs[0].SectionName = "http"
	*c.Spec.Timeout.HTTP.RequestTimeout = "1s"
	c.Labels["k"] = "w"
	c.Status.Ancestors[0].Conditions[0].Type = "x"
	if *p.Spec.TargetRefs[0].SectionName != "https" || *p.Spec.Timeout.HTTP.RequestTimeout != "5m" || p.Labels["k"] != "v" || p.Status.Ancestors[0].Conditions[0].Type != "Accepted" {
		t.Fatalf("a write to the copy changed the original: %+v", p)
	}
}
