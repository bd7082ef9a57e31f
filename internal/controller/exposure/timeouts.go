package exposure

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
)

// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gatewayclasses,verbs=get;list;watch

// requestTimeoutFeature is the Gateway API feature of HTTPRoute timeouts.request.
const requestTimeoutFeature = "HTTPRouteRequestTimeout"

// gatewayClassOf reads the class of the Gateway the exposure's routes attach to: nil when the
// Gateway or its class does not exist (the route's own condition says so).
func (r *Reconciler) gatewayClassOf(ctx context.Context, gw types.NamespacedName) (*gatewayv1.GatewayClass, error) {
	g := &gatewayv1.Gateway{}
	if err := r.Get(ctx, gw, g); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading Gateway %s: %w", gw, err)
	}
	gc := &gatewayv1.GatewayClass{}
	if err := r.Get(ctx, types.NamespacedName{Name: string(g.Spec.GatewayClassName)}, gc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading GatewayClass %s: %w", g.Spec.GatewayClassName, err)
	}
	return gc, nil
}

// timeoutSupport is what the controller serving an exposure's routing can express of the
// timeout model: how it expresses each part ("" when it cannot), and what the platform team
// can set for the parts it cannot.
type timeoutSupport struct {
	// server names the controller: "IngressClass nginx (controller k8s.io/ingress-nginx)".
	server string
	// idle and request say how each part is expressed, e.g. "proxy-read-timeout and
	// proxy-send-timeout"; "" when the controller cannot express it.
	idle, request string
	// unknown: whether the controller can express the request deadline is not known (a
	// GatewayClass that lists no supported features).
	unknown bool
	// platform is what the platform team can do about the parts not expressed.
	platform string
}

// timeoutsVerdict says whether the controller enforces every part of the timeout model the
// exposure asks for (zero parts are not asked for). ok is false when nothing is asked: the
// condition goes. Pure.
func timeoutsVerdict(s timeoutSupport, idle, request time.Duration) (v router.Verdict, ok bool) {
	if idle == 0 && request == 0 {
		return router.Verdict{}, false
	}
	var done, missing []string
	if idle != 0 {
		if s.idle != "" {
			done = append(done, fmt.Sprintf("the idle timeout %s as %s", idle, s.idle))
		} else {
			missing = append(missing, fmt.Sprintf("the idle timeout %s", idle))
		}
	}
	if request != 0 {
		switch {
		case s.request != "":
			done = append(done, fmt.Sprintf("the request deadline %s as %s", request, s.request))
		case s.unknown:
			return router.Verdict{Status: metav1.ConditionUnknown, Reason: exposurev1alpha1.ReasonFeaturesUnknown, Message: fmt.Sprintf(
				"%s lists no supported features, so whether it enforces the request deadline %s (HTTPRoute timeouts.request) is not known", s.server, request)}, true
		default:
			missing = append(missing, fmt.Sprintf("the request deadline %s", request))
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("%s cannot express %s: not enforced", s.server, strings.Join(missing, " nor "))
		if len(done) > 0 {
			msg += fmt.Sprintf(" (it enforces %s)", strings.Join(done, " and "))
		}
		if s.platform != "" {
			msg += "; " + s.platform
		}
		return router.Verdict{Status: metav1.ConditionFalse, Reason: exposurev1alpha1.ReasonTimeoutNotSupported, Message: msg}, true
	}
	return router.Verdict{Status: metav1.ConditionTrue, Reason: exposurev1alpha1.ReasonTimeoutsApplied, Message: fmt.Sprintf(
		"%s enforces %s", s.server, strings.Join(done, " and "))}, true
}

// What the platform team sets where a controller has no per-route setting.
const (
	gatewayPlatform = "the Gateway's own timers apply, which the platform team sets on the implementation (Envoy Gateway: ClientTrafficPolicy and BackendTrafficPolicy timeouts; Traefik: the entrypoints' respondingTimeouts)"
)

// ingressTimeoutSupport is what an Ingress's controller can express, from its IngressClass's
// controller (or the class name while the class is unknown): its dialect says.
func ingressTimeoutSupport(controller string, exp *exposurev1alpha1.InferenceExposure) timeoutSupport {
	idle, platform := router.IngressTimeouts(controller, exp)
	return timeoutSupport{server: ingressServerName(controller, exp), idle: idle, platform: platform}
}

// ingressServerName names an Ingress's class and its controller in a message.
func ingressServerName(controller string, exp *exposurev1alpha1.InferenceExposure) string {
	className := router.IngressClassName(exp)
	name := "IngressClass " + className
	if className == "" {
		name = "the default IngressClass"
	}
	if controller != "" {
		name += " (controller " + controller + ")"
	}
	return name
}

// routeTimeoutSupport is what the OpenShift router expresses: its timeouts are idle timers.
func routeTimeoutSupport() timeoutSupport {
	return timeoutSupport{server: "the OpenShift router", idle: "haproxy.router.openshift.io/timeout (and timeout-tunnel for gRPC)",
		platform: "the OpenShift router has no deadline for a whole response"}
}

// gatewayTimeoutSupport is what a Gateway's controller expresses, from its GatewayClass: the
// request deadline as HTTPRoute timeouts.request where it lists the feature; no standard field
// holds an idle timer, nor any timeout of a GRPCRoute or TLSRoute.
func gatewayTimeoutSupport(class *gatewayv1.GatewayClass, term exposurev1alpha1.TLSTermination, grpc, policies bool) timeoutSupport {
	s := timeoutSupport{server: fmt.Sprintf("GatewayClass %s (controller %s)", class.Name, class.Spec.ControllerName), platform: gatewayPlatform}
	if term == exposurev1alpha1.TLSPassthrough {
		s.server += " on a TLSRoute"
		return s
	}
	if policies {
		// Envoy Gateway: its BackendTrafficPolicy holds both, for the GRPCRoute too.
		s.idle = "BackendTrafficPolicy timeout.http.streamIdleTimeout"
		s.request = "BackendTrafficPolicy timeout.http.requestTimeout (and HTTPRoute timeouts.request)"
		return s
	}
	features := make([]string, 0, len(class.Status.SupportedFeatures))
	for _, f := range class.Status.SupportedFeatures {
		features = append(features, string(f.Name))
	}
	switch {
	case len(features) == 0:
		s.unknown = true
	case slices.Contains(features, requestTimeoutFeature):
		s.request = "HTTPRoute timeouts.request"
		if grpc {
			s.request += " (the GRPCRoute has no timeouts field)"
		}
	default:
		s.server += fmt.Sprintf(", which does not implement HTTPRoute timeouts (its status.supportedFeatures lacks %s),", requestTimeoutFeature)
	}
	return s
}

// settingsVerdict says whether an Ingress's controller expresses the other settings the
// operator renders per controller (done, missing: from its dialect). Pure.
func settingsVerdict(server string, done, missing []string) router.Verdict {
	if len(missing) > 0 {
		msg := fmt.Sprintf("%s cannot express %s", server, strings.Join(missing, "; nor "))
		if len(done) > 0 {
			msg += fmt.Sprintf(" (it expresses %s)", strings.Join(done, ", "))
		}
		return router.Verdict{Status: metav1.ConditionFalse, Reason: exposurev1alpha1.ReasonSettingNotSupported, Message: msg}
	}
	return router.Verdict{Status: metav1.ConditionTrue, Reason: exposurev1alpha1.ReasonApplied, Message: fmt.Sprintf("%s expresses %s", server, strings.Join(done, ", "))}
}
