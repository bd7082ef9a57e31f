package exposure

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
)

// TestTimeoutsVerdict: TimeoutsApplied is True only when the controller that serves the
// routing expresses every part of the timeout model asked for; otherwise it names the
// controller, the part, and what the platform can do.
func TestTimeoutsVerdict(t *testing.T) {
	class := func(features ...string) *gatewayv1.GatewayClass {
		c := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "eg"}, Spec: gatewayv1.GatewayClassSpec{ControllerName: "gateway.envoyproxy.io/gatewayclass-controller"}}
		for _, f := range features {
			c.Status.SupportedFeatures = append(c.Status.SupportedFeatures, gatewayv1.SupportedFeature{Name: gatewayv1.FeatureName(f)})
		}
		return c
	}
	const edge, pass = exposurev1alpha1.TLSEdge, exposurev1alpha1.TLSPassthrough
	ing := func(controller, class string, term exposurev1alpha1.TLSTermination) timeoutSupport {
		e := &exposurev1alpha1.InferenceExposure{Spec: exposurev1alpha1.InferenceExposureSpec{Router: &exposurev1alpha1.RouterSpec{
			Ingress: &exposurev1alpha1.IngressSettings{ClassName: class}, TLS: &exposurev1alpha1.RouterTLS{Termination: term}}}}
		return ingressTimeoutSupport(controller, e)
	}
	m5, h1 := 5*time.Minute, time.Hour
	cases := []struct {
		name          string
		support       timeoutSupport
		idle, request time.Duration
		status        metav1.ConditionStatus // "" when the condition goes
		contains      []string
	}{
		{"nothing asked", ing("k8s.io/ingress-nginx", "nginx", edge), 0, 0, "", nil},
		{"ingress-nginx, idle", ing("k8s.io/ingress-nginx", "public", edge), m5, 0, metav1.ConditionTrue,
			[]string{"IngressClass public (controller k8s.io/ingress-nginx) enforces the idle timeout 5m0s as proxy-read-timeout"}},
		{"ingress-nginx, a deadline", ing("k8s.io/ingress-nginx", "public", edge), m5, h1, metav1.ConditionFalse,
			[]string{"cannot express the request deadline 1h0m0s", "it enforces the idle timeout", "no deadline for a whole response"}},
		{"ingress-nginx passthrough is a TCP stream", ing("k8s.io/ingress-nginx", "nginx", pass), m5, 0, metav1.ConditionFalse,
			[]string{"cannot express the idle timeout"}},
		{"a class named nginx not yet known", ing("", "nginx", edge), m5, 0, metav1.ConditionTrue, []string{"proxy-read-timeout"}},
		{"Traefik's own provider", ing("traefik.io/ingress-controller", "traefik", edge), m5, 0, metav1.ConditionFalse,
			[]string{"cannot express the idle timeout", "no per-route timeout", "readTimeout defaults to 60s"}},
		{"F5 NGINX under the class name nginx", ing("nginx.org/ingress-controller", "nginx", edge), m5, 0, metav1.ConditionTrue,
			[]string{"enforces the idle timeout 5m0s as nginx.org/proxy-read-timeout"}},
		{"HAProxy Ingress: the server side's timer, the platform's client timer named", ing("haproxy-ingress.github.io/controller", "haproxy", edge), m5, 0, metav1.ConditionTrue,
			[]string{"enforces the idle timeout 5m0s as haproxy-ingress.github.io/timeout-server", "timeout-client"}},
		{"HAProxy Technologies', a deadline", ing("haproxy.org/ingress-controller", "haproxy", edge), m5, h1, metav1.ConditionFalse,
			[]string{"cannot express the request deadline 1h0m0s", "haproxy.org/timeout-server", "no deadline for a whole response"}},
		{"a controller the operator does not know", ing("example.com/ingress", "ours", edge), m5, 0, metav1.ConditionFalse,
			[]string{"(controller example.com/ingress) cannot express the idle timeout", "knows no annotations of this controller"}},
		{"the default class, unknown", ing("", "", edge), m5, 0, metav1.ConditionFalse, []string{"the default IngressClass"}},
		{"OpenShift router, idle", routeTimeoutSupport(), m5, 0, metav1.ConditionTrue, []string{"haproxy.router.openshift.io/timeout"}},
		{"OpenShift router, a deadline", routeTimeoutSupport(), m5, h1, metav1.ConditionFalse, []string{"cannot express the request deadline"}},
		{"Gateway, a deadline only, implemented", gatewayTimeoutSupport(class("HTTPRoute", "HTTPRouteRequestTimeout"), edge, false, false), 0, h1, metav1.ConditionTrue,
			[]string{"enforces the request deadline 1h0m0s as HTTPRoute timeouts.request"}},
		{"Gateway, the default idle timeout has no standard field", gatewayTimeoutSupport(class("HTTPRoute", "HTTPRouteRequestTimeout"), edge, false, false), m5, 0, metav1.ConditionFalse,
			[]string{"cannot express the idle timeout 5m0s", "ClientTrafficPolicy"}},
		{"Gateway, a deadline, not implemented (Traefik v3.7)", gatewayTimeoutSupport(class("HTTPRoute", "GRPCRoute"), edge, false, false), 0, h1, metav1.ConditionFalse,
			[]string{"does not implement HTTPRoute timeouts (its status.supportedFeatures lacks HTTPRouteRequestTimeout)"}},
		{"Gateway lists no features", gatewayTimeoutSupport(class(), edge, false, false), 0, h1, metav1.ConditionUnknown, []string{"lists no supported features"}},
		{"Gateway with gRPC: the GRPCRoute has none", gatewayTimeoutSupport(class("HTTPRouteRequestTimeout"), edge, true, false), 0, h1, metav1.ConditionTrue,
			[]string{"the GRPCRoute has no timeouts field"}},
		{"Envoy Gateway with its policy: both, for the GRPCRoute too", gatewayTimeoutSupport(class(), edge, true, true), m5, h1, metav1.ConditionTrue,
			[]string{"the idle timeout 5m0s as BackendTrafficPolicy timeout.http.streamIdleTimeout", "requestTimeout"}},
		{"TLSRoute", gatewayTimeoutSupport(class("HTTPRouteRequestTimeout"), pass, false, false), m5, 0, metav1.ConditionFalse, []string{"on a TLSRoute cannot express the idle timeout"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := timeoutsVerdict(tc.support, tc.idle, tc.request)
			if tc.status == "" {
				if ok {
					t.Fatalf("a condition where nothing is asked: %+v", v)
				}
				return
			}
			if !ok || v.Status != tc.status {
				t.Fatalf("got %v %s %s %q", ok, v.Status, v.Reason, v.Message)
			}
			for _, c := range tc.contains {
				if !strings.Contains(v.Message, c) {
					t.Errorf("message %q lacks %q", v.Message, c)
				}
			}
		})
	}
}

// TestSettingsVerdict: SettingsApplied follows the Ingress dialect: True on ingress-nginx's and
// F5 NGINX's, False on Traefik's own provider (body limit, redirect) and on unknown controllers.
func TestSettingsVerdict(t *testing.T) {
	for _, tc := range []struct {
		name, controller, class string
		status                  metav1.ConditionStatus
		contains                string
	}{
		{"ingress-nginx", "k8s.io/ingress-nginx", "nginx", metav1.ConditionTrue, "proxy-body-size"},
		{"F5 NGINX", "nginx.org/ingress-controller", "nginx", metav1.ConditionTrue, "nginx.org/client-max-body-size"},
		{"Traefik's own provider", "traefik.io/ingress-controller", "traefik", metav1.ConditionFalse, "entryPoints.web.http.redirections"},
		{"HAProxy Ingress", "haproxy-ingress.github.io/controller", "haproxy", metav1.ConditionTrue, "haproxy-ingress.github.io/proxy-body-size"},
		{"HAProxy Technologies': no per-Ingress body limit", "haproxy.org/ingress-controller", "haproxy", metav1.ConditionFalse, "backend-config-snippet"},
		{"an unknown controller", "example.com/ingress", "ours", metav1.ConditionFalse, "knows no annotations of this controller"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &exposurev1alpha1.InferenceExposure{Spec: exposurev1alpha1.InferenceExposureSpec{Router: &exposurev1alpha1.RouterSpec{
				Ingress: &exposurev1alpha1.IngressSettings{ClassName: tc.class, BodySize: "1g"}}}}
			done, missing := router.IngressSettingsApplied(tc.controller, e)
			v := settingsVerdict(ingressServerName(tc.controller, e), done, missing)
			if v.Status != tc.status || !strings.Contains(v.Message, tc.contains) || !strings.Contains(v.Message, tc.controller) {
				t.Errorf("got %s %s %q", v.Status, v.Reason, v.Message)
			}
		})
	}
}
