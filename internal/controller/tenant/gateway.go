package tenant

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

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
	"github.com/inference-exposure/inference-exposure-operator/internal/childapply"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/tenantgateway"
)

// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=listenersets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gateways;gatewayclasses,verbs=get;list;watch

// listenerSetFeature is the GatewayClass feature of Gateways that take ListenerSets.
const listenerSetFeature = "ListenerSet"

// apiRecheck is how often a tenant waiting for the ListenerSet API looks again.
const apiRecheck = 30 * time.Second

// reconcileGateway keeps the tenant's ListenerSet on its shared Gateway (spec.gateway) and
// reports what the Gateway says of it; without spec.gateway, it removes the one it made.
func (r *Reconciler) reconcileGateway(ctx context.Context, s *tenantScope) (ctrl.Result, error) {
	tenant, conds := s.tenant, s.conds
	if tenant.Spec.Gateway == nil {
		// Only a tenant that had listeners (its condition says so) has a ListenerSet to remove:
		// the others cost no lookup.
		if meta.FindStatusCondition(tenant.Status.Conditions, exposurev1alpha1.ConditionGatewayListenersReady) == nil ||
			r.APIs == nil || !r.APIs.Served(tenantgateway.GVK) {
			return ctrl.Result{}, nil
		}
		conds.Remove(exposurev1alpha1.ConditionGatewayListenersReady)
		return ctrl.Result{}, r.removeListenerSets(ctx, tenant, types.NamespacedName{})
	}
	if r.APIs == nil || !r.APIs.Served(tenantgateway.GVK) {
		conds.Failed(exposurev1alpha1.ConditionGatewayListenersReady, exposurev1alpha1.ReasonAPINotServed, fmt.Sprintf(
			"spec.gateway needs the ListenerSet API (%s, Gateway API v1.5 or later), which this cluster does not serve: install the Gateway API's standard CRDs", tenantgateway.GVK.GroupVersion()))
		return ctrl.Result{RequeueAfter: apiRecheck}, nil // no event says when it comes
	}
	key := tenantgateway.Key(tenant)
	if !s.owned[key.Namespace] {
		conds.Failed(exposurev1alpha1.ConditionGatewayListenersReady, exposurev1alpha1.ReasonNamespaceConflict, fmt.Sprintf(
			"the ListenerSet goes in namespace %s, which this tenant does not own (another tenant keeps it, see NamespacesExclusive): set spec.gateway.namespace to a namespace it owns", key.Namespace))
		return ctrl.Result{}, r.removeListenerSets(ctx, tenant, types.NamespacedName{})
	}
	owned := make([]string, 0, len(s.owned))
	for ns, ok := range s.owned {
		if ok {
			owned = append(owned, ns)
		}
	}
	sort.Strings(owned)
	desired := tenantgateway.ListenerSet(tenant, owned)
	live := &gatewayv1.ListenerSet{}
	var existing client.Object = live
	switch err := r.Get(ctx, key, live); {
	case apierrors.IsNotFound(err):
		existing = nil
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("reading ListenerSet %s: %w", key, err)
	case !metav1.IsControlledBy(live, tenant):
		conds.Failed(exposurev1alpha1.ConditionGatewayListenersReady, exposurev1alpha1.ReasonRouterConflict, fmt.Sprintf(
			"a ListenerSet %s that this tenant does not own exists: the operator leaves it alone; delete it, or set spec.gateway.namespace elsewhere", key))
		return ctrl.Result{}, nil
	}
	applied, _, err := (&childapply.Applier{Client: r.Client, APIReader: r.APIReader}).Apply(ctx, existing, desired)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("applying ListenerSet %s: %w", key, err)
	}
	if err := r.removeListenerSets(ctx, tenant, key); err != nil { // one left in a former namespace
		return ctrl.Result{}, err
	}
	status, reason, msg := tenantgateway.Verdict(tenant, applied.(*gatewayv1.ListenerSet))
	if status == metav1.ConditionUnknown {
		gw := &gatewayv1.Gateway{}
		ref := tenant.Spec.Gateway.ParentRef
		switch err := r.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, gw); {
		case apierrors.IsNotFound(err):
			status, reason, msg = metav1.ConditionFalse, exposurev1alpha1.ReasonGatewayNotFound, fmt.Sprintf(
				"Gateway %s/%s does not exist: the platform creates it (with spec.allowedListeners for namespace %s), or spec.gateway.parentRef names another", ref.Namespace, ref.Name, key.Namespace)
		case err != nil:
			return ctrl.Result{}, fmt.Errorf("reading Gateway %s/%s: %w", ref.Namespace, ref.Name, err)
		default:
			// A class that lists its features but not ListenerSet will never report on it.
			class := &gatewayv1.GatewayClass{}
			if err := r.Get(ctx, types.NamespacedName{Name: string(gw.Spec.GatewayClassName)}, class); err == nil && len(class.Status.SupportedFeatures) > 0 &&
				!slices.ContainsFunc(class.Status.SupportedFeatures, func(f gatewayv1.SupportedFeature) bool { return f.Name == listenerSetFeature }) {
				status, reason, msg = metav1.ConditionFalse, exposurev1alpha1.ReasonListenerSetNotSupported, fmt.Sprintf(
					"GatewayClass %s (controller %s) of Gateway %s/%s does not list %s in status.supportedFeatures, so its controller will not serve the tenant's listeners: the platform names a Gateway whose implementation supports ListenerSets",
					class.Name, class.Spec.ControllerName, ref.Namespace, ref.Name, listenerSetFeature)
			} else if client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, fmt.Errorf("reading GatewayClass %s: %w", gw.Spec.GatewayClassName, err)
			}
		}
	}
	conds.Verdict(exposurev1alpha1.ConditionGatewayListenersReady, status, reason, msg)
	return ctrl.Result{}, nil
}

// removeListenerSets deletes the tenant's ListenerSets other than keep (all of them when keep
// is empty): only the ones it controls.
func (r *Reconciler) removeListenerSets(ctx context.Context, tenant *exposurev1alpha1.InferenceTenant, keep types.NamespacedName) error {
	var list gatewayv1.ListenerSetList
	if err := r.List(ctx, &list, client.MatchingLabels{exposurev1alpha1.LabelTenant: tenant.Name, exposurev1alpha1.LabelManagedBy: exposurev1alpha1.ManagedByValue}); err != nil {
		return fmt.Errorf("listing the tenant's ListenerSets: %w", err)
	}
	for i := range list.Items {
		ls := &list.Items[i]
		if client.ObjectKeyFromObject(ls) == keep || !metav1.IsControlledBy(ls, tenant) {
			continue
		}
		if err := r.Delete(ctx, ls, client.Preconditions{UID: &ls.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("removing ListenerSet %s/%s: %w", ls.Namespace, ls.Name, err)
		}
	}
	return nil
}

// watchListenerSets requeues a tenant when one of its ListenerSets changes (the Gateway's
// status), once the API is served.
func (r *Reconciler) watchListenerSets(mgr ctrl.Manager) error {
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	if r.listenerSetsWatched || !r.APIs.Served(tenantgateway.GVK) {
		return nil
	}
	toTenant := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		if t := o.GetLabels()[exposurev1alpha1.LabelTenant]; t != "" && o.GetLabels()[exposurev1alpha1.LabelManagedBy] == exposurev1alpha1.ManagedByValue {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: t}}}
		}
		return nil
	})
	if err := r.controller.Watch(source.Kind(mgr.GetCache(), client.Object(&gatewayv1.ListenerSet{}), toTenant)); err != nil {
		return fmt.Errorf("watching ListenerSets: %w", err)
	}
	r.listenerSetsWatched = true
	return nil
}
