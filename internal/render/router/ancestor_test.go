package router

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TestAncestorVerdict: which ancestor statuses of a BackendTLSPolicy speak for the exposure's
// Gateway.
func TestAncestorVerdict(t *testing.T) {
	parent := gatewayv1.ParentReference{Group: ptr.To(gatewayv1.Group(gatewayv1.GroupName)), Kind: ptr.To(gatewayv1.Kind("Gateway")),
		Namespace: ptr.To(gatewayv1.Namespace("infra")), Name: "ai"}
	accepted := []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted"}, {Type: "ResolvedRefs", Status: metav1.ConditionTrue, Reason: "ResolvedRefs"}}
	ref := func(ns, name, section string) gatewayv1.ParentReference {
		r := gatewayv1.ParentReference{Kind: ptr.To(gatewayv1.Kind("Gateway")), Name: gatewayv1.ObjectName(name)}
		if ns != "" {
			r.Namespace = ptr.To(gatewayv1.Namespace(ns))
		}
		if section != "" {
			r.SectionName = ptr.To(gatewayv1.SectionName(section))
		}
		return r
	}
	cases := []struct {
		name     string
		ancestor gatewayv1.ParentReference
		parent   gatewayv1.ParentReference
		want     metav1.ConditionStatus
	}{
		{"the Gateway itself", ref("infra", "ai", ""), parent, metav1.ConditionTrue},
		{"one of its listeners, when the parent names none", ref("infra", "ai", "https"), parent, metav1.ConditionTrue},
		{"the policy's namespace standing for the Gateway's (Traefik v3.7)", ref("team", "ai", "https"), parent, metav1.ConditionTrue},
		{"another Gateway", ref("infra", "other", ""), parent, metav1.ConditionUnknown},
		{"a Gateway of that name in a third namespace", ref("elsewhere", "ai", ""), parent, metav1.ConditionUnknown},
		{"another listener than the one named", ref("infra", "ai", "grpc"), func() gatewayv1.ParentReference {
			p := parent
			p.SectionName = ptr.To(gatewayv1.SectionName("https"))
			return p
		}(), metav1.ConditionUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := AncestorVerdict("BackendTLSPolicy", 1, []gatewayv1.RouteParentStatus{{ParentRef: tc.ancestor, Conditions: accepted}}, tc.parent, "team")
			if v.Status != tc.want {
				t.Errorf("got %s %s %q, want %s", v.Status, v.Reason, v.Message, tc.want)
			}
		})
	}
}
