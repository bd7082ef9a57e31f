package exposure

import (
	"context"
	"fmt"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/tenantgateway"
)

// DefaultReportTimeout is how long a routing object may wait for its controller's first report
// before its condition turns False (the exposure Stalled).
const DefaultReportTimeout = 2 * time.Minute

// stalledRecheck is how often a stalled wait looks at its IngressClass or Gateway again: their
// changes do not wake the exposure, the controller's report on the object does.
const stalledRecheck = time.Minute

// defaultClassAnnotation marks the cluster's default IngressClass.
const defaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"

// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingressclasses,verbs=get;list;watch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gateways,verbs=get;list;watch

// server is what the cluster says of the server of a routing object that no controller has
// reported on yet.
type server struct {
	// name names it in a message: "IngressClass nginx", "Gateway infra/shared".
	name string
	// missing says why nothing can serve the object, with its reason ("" when it exists).
	missing, missingReason string
	// silent: the class's controller never writes status (AnnotationReportsStatus).
	silent bool
	// hint ends the message of a wait that took too long.
	hint string
}

// serverOf reads, from the cache, whether the object's IngressClass or Gateway
// exists and whether the class reports status.
func (r *Reconciler) serverOf(ctx context.Context, s router.Server, obj client.Object) (server, error) {
	switch {
	case s.IngressClass != nil:
		return r.ingressClass(ctx, *s.IngressClass, obj.GetName())
	case s.Gateway != nil:
		name := "Gateway " + s.Gateway.String()
		gw := &gatewayv1.Gateway{} // the whole object: its class tells the timeouts apart (timeouts.go)
		switch err := r.Get(ctx, *s.Gateway, gw); {
		case apierrors.IsNotFound(err):
			return server{name: name, missingReason: exposurev1alpha1.ReasonGatewayNotFound,
				missing: fmt.Sprintf("%s does not exist: create it, or name an existing Gateway in router.gateway", name)}, nil
		case err != nil:
			return server{}, fmt.Errorf("reading %s: %w", name, err)
		}
		return server{name: name}, nil
	case s.ListenerSet != nil:
		name := "ListenerSet " + s.ListenerSet.String()
		ls := &gatewayv1.ListenerSet{}
		switch err := r.Get(ctx, *s.ListenerSet, ls); {
		case apierrors.IsNotFound(err):
			return server{name: name, missingReason: exposurev1alpha1.ReasonGatewayNotFound,
				missing: fmt.Sprintf("the tenant's %s does not exist yet: its GatewayListenersReady condition says why", name)}, nil
		case err != nil:
			return server{}, fmt.Errorf("reading %s: %w", name, err)
		}
		// A ListenerSet its Gateway refused carries no route: say why, as the tenant does.
		if c := meta.FindStatusCondition(ls.Status.Conditions, string(gatewayv1.ListenerSetConditionAccepted)); c != nil && c.Status == metav1.ConditionFalse && c.ObservedGeneration >= ls.Generation {
			return server{name: name, missingReason: c.Reason, missing: fmt.Sprintf(
				"the tenant's %s is not accepted by its Gateway (%s: %s): the tenant's GatewayListenersReady condition says what the platform must change", name, c.Reason, c.Message)}, nil
		}
		return server{name: name}, nil
	}
	return server{name: "any OpenShift router"}, nil
}

// lookupIngressClass reads the named IngressClass, or the cluster's default when class is "";
// nil when there is none.
func (r *Reconciler) lookupIngressClass(ctx context.Context, class string) (*networkingv1.IngressClass, error) {
	if class == "" {
		list := &networkingv1.IngressClassList{}
		if err := r.List(ctx, list); err != nil {
			return nil, fmt.Errorf("listing IngressClasses: %w", err)
		}
		for i := range list.Items {
			if list.Items[i].Annotations[defaultClassAnnotation] == "true" {
				return &list.Items[i], nil
			}
		}
		return nil, nil
	}
	ic := &networkingv1.IngressClass{}
	switch err := r.Get(ctx, types.NamespacedName{Name: class}, ic); {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading IngressClass %s: %w", class, err)
	}
	return ic, nil
}

// ingressClass reads the named class, or the cluster's default when class is "".
func (r *Reconciler) ingressClass(ctx context.Context, class, ingress string) (server, error) {
	ic, err := r.lookupIngressClass(ctx, class)
	switch {
	case err != nil:
		return server{}, err
	case ic == nil && class == "":
		return server{name: "the default IngressClass", missingReason: exposurev1alpha1.ReasonIngressClassNotFound,
			missing: fmt.Sprintf("Ingress %s names no IngressClass and the cluster has no default one: set router.ingress.className", ingress)}, nil
	case ic == nil:
		return server{name: "IngressClass " + class, missingReason: exposurev1alpha1.ReasonIngressClassNotFound,
			missing: fmt.Sprintf("IngressClass %s does not exist, so no ingress controller serves Ingress %s: set router.ingress.className to an installed class", class, ingress)}, nil
	}
	return server{name: "IngressClass " + ic.Name, silent: ic.Annotations[exposurev1alpha1.AnnotationReportsStatus] == "false",
		hint: fmt.Sprintf(" (if it never writes status, the platform annotates the IngressClass with %s: \"false\")", exposurev1alpha1.AnnotationReportsStatus)}, nil
}

// settle decides a routing condition whose controller has not reported yet (v is Unknown),
// from what the cluster says of its server and from the condition as it was (prev, nil when
// new). An Ingress of a class that never reports is True but not confirmed; an object nothing
// can serve is False; a wait longer than timeout is False, naming the server (kstatus:
// Stalled); otherwise it waits, Unknown (Reconciling). It returns when to look again. Pure.
func settle(v router.Verdict, s server, prev *metav1.Condition, now time.Time, timeout time.Duration) (router.Verdict, time.Duration) {
	switch {
	case s.silent:
		return router.Verdict{Status: metav1.ConditionTrue, Reason: exposurev1alpha1.ReasonNotConfirmed, Message: fmt.Sprintf(
			"%s; %s says its controller writes no status (%s: \"false\"), so no data plane has confirmed it", v.Message, s.name, exposurev1alpha1.AnnotationReportsStatus)}, 0
	case s.missing != "":
		return router.Verdict{Status: metav1.ConditionFalse, Reason: s.missingReason, Message: s.missing}, stalledRecheck
	case prev != nil && prev.Status == metav1.ConditionFalse && prev.Reason == exposurev1alpha1.ReasonNoControllerReport:
		return router.Verdict{Status: metav1.ConditionFalse, Reason: prev.Reason, Message: prev.Message}, stalledRecheck
	}
	since := now
	if prev != nil && prev.Status == metav1.ConditionUnknown {
		since = prev.LastTransitionTime.Time
	}
	if waited := now.Sub(since); waited < timeout {
		return v, timeout - waited
	}
	return router.Verdict{Status: metav1.ConditionFalse, Reason: exposurev1alpha1.ReasonNoControllerReport, Message: fmt.Sprintf(
		"%s after %s: check that the controller of %s runs and serves this namespace%s", v.Message, timeout, s.name, s.hint)}, stalledRecheck
}

// watchListenerSets requeues the exposures of a tenant when its ListenerSet changes (what its
// Gateway says of it reaches their route conditions), once the API is served.
func (r *Reconciler) watchListenerSets(mgr ctrl.Manager) error {
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	if r.watched[tenantgateway.GVK] || !r.APIs.Served(tenantgateway.GVK) {
		return nil
	}
	toExposures := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		name := o.GetLabels()[exposurev1alpha1.LabelTenant]
		if name == "" || o.GetLabels()[exposurev1alpha1.LabelManagedBy] != exposurev1alpha1.ManagedByValue {
			return nil
		}
		t := &exposurev1alpha1.InferenceTenant{}
		if err := r.Get(ctx, types.NamespacedName{Name: name}, t); err != nil {
			return nil
		}
		return r.exposuresOfTenant(ctx, t)
	})
	if err := r.controller.Watch(source.Kind(mgr.GetCache(), client.Object(&gatewayv1.ListenerSet{}), toExposures)); err != nil {
		return fmt.Errorf("watching ListenerSets: %w", err)
	}
	r.watched[tenantgateway.GVK] = true
	return nil
}
