package exposure

import (
	"context"
	"fmt"
	"slices"
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

// timeoutsVerdict says whether the controller of class enforces the exposure's timeout as
// HTTPRoute timeouts.request, from the features its GatewayClass reports. Pure.
func timeoutsVerdict(class *gatewayv1.GatewayClass, timeout time.Duration) router.Verdict {
	name := fmt.Sprintf("GatewayClass %s (controller %s)", class.Name, class.Spec.ControllerName)
	features := make([]string, 0, len(class.Status.SupportedFeatures))
	for _, f := range class.Status.SupportedFeatures {
		features = append(features, string(f.Name))
	}
	switch {
	case len(features) == 0:
		return router.Verdict{Status: metav1.ConditionUnknown, Reason: exposurev1alpha1.ReasonFeaturesUnknown, Message: fmt.Sprintf(
			"%s lists no supported features, so whether it enforces router.timeout %s (HTTPRoute timeouts.request) is not known", name, timeout)}
	case !slices.Contains(features, requestTimeoutFeature):
		return router.Verdict{Status: metav1.ConditionFalse, Reason: exposurev1alpha1.ReasonTimeoutNotSupported, Message: fmt.Sprintf(
			"%s does not implement HTTPRoute timeouts (its status.supportedFeatures lacks %s): router.timeout %s is not enforced; requests are bounded only by the Gateway's own timers, which the platform team sets",
			name, requestTimeoutFeature, timeout)}
	}
	return router.Verdict{Status: metav1.ConditionTrue, Reason: exposurev1alpha1.ReasonTimeoutsApplied, Message: fmt.Sprintf(
		"%s enforces router.timeout %s as HTTPRoute timeouts.request, a deadline for the whole response", name, timeout)}
}

// ingressTimeoutsVerdict says whether the controller of an Ingress enforces the exposure's
// timeout, from the annotations the operator knows for it (router.FlavourOf). Pure.
func ingressTimeoutsVerdict(controller, className string, timeout time.Duration) router.Verdict {
	name := "IngressClass " + className
	if className == "" {
		name = "the default IngressClass"
	}
	if controller != "" {
		name += " (controller " + controller + ")"
	}
	switch router.FlavourOf(controller, className) {
	case router.FlavourNginx:
		return router.Verdict{Status: metav1.ConditionTrue, Reason: exposurev1alpha1.ReasonTimeoutsApplied, Message: fmt.Sprintf(
			"%s enforces router.timeout %s as proxy-read-timeout and proxy-send-timeout: an idle timer, so a stream that keeps sending lives on", name, timeout)}
	case router.FlavourTraefik:
		return router.Verdict{Status: metav1.ConditionFalse, Reason: exposurev1alpha1.ReasonTimeoutNotSupported, Message: fmt.Sprintf(
			"%s: Traefik's Ingress provider has no per-route timeout, so router.timeout %s is not enforced; streams are bounded by the entrypoint's respondingTimeouts, which the platform team sets (readTimeout defaults to 60s and cuts longer streams: set it to 0)", name, timeout)}
	}
	return router.Verdict{Status: metav1.ConditionFalse, Reason: exposurev1alpha1.ReasonTimeoutNotSupported, Message: fmt.Sprintf(
		"%s: the operator knows no timeout annotation of this controller, so router.timeout %s is not rendered; its own defaults apply", name, timeout)}
}
