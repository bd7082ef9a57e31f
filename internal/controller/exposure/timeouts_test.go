package exposure

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// TestTimeoutsVerdict: whether a Gateway's controller enforces router.timeout, from the
// features its GatewayClass reports.
func TestTimeoutsVerdict(t *testing.T) {
	class := func(features ...string) *gatewayv1.GatewayClass {
		c := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "traefik"}, Spec: gatewayv1.GatewayClassSpec{ControllerName: "traefik.io/gateway-controller"}}
		for _, f := range features {
			c.Status.SupportedFeatures = append(c.Status.SupportedFeatures, gatewayv1.SupportedFeature{Name: gatewayv1.FeatureName(f)})
		}
		return c
	}
	cases := []struct {
		name     string
		class    *gatewayv1.GatewayClass
		status   metav1.ConditionStatus
		reason   string
		contains string
	}{
		{"implemented", class("HTTPRoute", "HTTPRouteRequestTimeout"), metav1.ConditionTrue, exposurev1alpha1.ReasonTimeoutsApplied, "a deadline for the whole response"},
		{"not implemented (Traefik v3.7)", class("HTTPRoute", "GRPCRoute"), metav1.ConditionFalse, exposurev1alpha1.ReasonTimeoutNotSupported,
			"GatewayClass traefik (controller traefik.io/gateway-controller) does not implement HTTPRoute timeouts"},
		{"no features reported", class(), metav1.ConditionUnknown, exposurev1alpha1.ReasonFeaturesUnknown, "lists no supported features"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := timeoutsVerdict(tc.class, 5*time.Minute)
			if v.Status != tc.status || v.Reason != tc.reason || !strings.Contains(v.Message, tc.contains) {
				t.Errorf("got %s %s %q", v.Status, v.Reason, v.Message)
			}
		})
	}
}

// TestIngressTimeoutsVerdict: whether an Ingress's controller enforces router.timeout, from
// the class's controller (or its name while the class is unknown).
func TestIngressTimeoutsVerdict(t *testing.T) {
	for _, tc := range []struct {
		name, controller, class string
		status                  metav1.ConditionStatus
		contains                string
	}{
		{"ingress-nginx", "k8s.io/ingress-nginx", "public", metav1.ConditionTrue, "an idle timer"},
		{"a class named nginx not yet known", "", "nginx", metav1.ConditionTrue, "proxy-read-timeout"},
		{"Traefik's own provider", "traefik.io/ingress-controller", "traefik", metav1.ConditionFalse, "readTimeout defaults to 60s"},
		{"F5 NGINX, whose annotations are other", "nginx.org/ingress-controller", "nginx", metav1.ConditionFalse, "(controller nginx.org/ingress-controller): the operator knows no timeout annotation"},
		{"the default class, unknown", "", "", metav1.ConditionFalse, "the default IngressClass"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := ingressTimeoutsVerdict(tc.controller, tc.class, 5*time.Minute)
			if v.Status != tc.status || !strings.Contains(v.Message, tc.contains) {
				t.Errorf("got %s %s %q", v.Status, v.Reason, v.Message)
			}
		})
	}
}
