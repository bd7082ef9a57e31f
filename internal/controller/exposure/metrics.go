package exposure

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/source"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/conditions"
	"github.com/inference-exposure/inference-exposure-operator/internal/monitoring"
	"github.com/inference-exposure/inference-exposure-operator/internal/render"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/podmonitor"
)

// reconcileMetrics keeps the exposure's PodMonitor (its spec.metrics or its tenant's), where
// the Prometheus Operator's API is served, and removes it when no longer asked for.
// MetricsScraped says which; it does not hold Ready back (traffic does not depend on it).
func (r *Reconciler) reconcileMetrics(ctx context.Context, s *exposureScope) (ctrl.Result, error) {
	exp, conds := s.exp, s.conds
	m := podmonitor.Spec(exp, s.tenant)
	served := r.APIs.Served(podmonitor.GVK)
	if m == nil {
		// Only an exposure that had one (its condition says so) has a PodMonitor to remove:
		// the others cost no lookup.
		if meta.FindStatusCondition(exp.Status.Conditions, exposurev1alpha1.ConditionMetricsScraped) == nil {
			return ctrl.Result{}, nil
		}
		conds.Remove(exposurev1alpha1.ConditionMetricsScraped)
		if !served {
			return ctrl.Result{}, nil
		}
		live := &monitoring.PodMonitor{}
		switch err := r.Get(ctx, client.ObjectKeyFromObject(exp), live); {
		case apierrors.IsNotFound(err):
			return ctrl.Result{}, nil
		case err != nil:
			return ctrl.Result{}, fmt.Errorf("reading PodMonitor %s: %w", exp.Name, err)
		case render.IsControlledBy(live, exp):
			if err := r.Delete(ctx, live, client.Preconditions{UID: &live.UID}); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, fmt.Errorf("removing PodMonitor %s: %w", exp.Name, err)
			}
		}
		return ctrl.Result{}, nil
	}
	if !served {
		conds.Failed(exposurev1alpha1.ConditionMetricsScraped, exposurev1alpha1.ReasonAPINotServed, fmt.Sprintf(
			"metrics asks for a PodMonitor (%s), which this cluster does not serve: install the Prometheus Operator (on OpenShift, user-workload monitoring), or set metrics.podMonitor false; the metrics port is not scraped by the operator's doing", podmonitor.GVK.GroupVersion()))
		return ctrl.Result{}, nil
	}
	desired := podmonitor.PodMonitor(exp, s.tenant.Name, m)
	live := &monitoring.PodMonitor{}
	var existing client.Object = live
	switch err := r.Get(ctx, client.ObjectKeyFromObject(desired), live); {
	case apierrors.IsNotFound(err):
		existing = nil
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("reading PodMonitor %s: %w", exp.Name, err)
	case !render.IsControlledBy(live, exp):
		conds.Failed(exposurev1alpha1.ConditionMetricsScraped, exposurev1alpha1.ReasonRouterConflict, fmt.Sprintf(
			"a PodMonitor %s that this exposure does not own exists: the operator leaves it alone; delete it, or set metrics.podMonitor false", exp.Name))
		return ctrl.Result{}, nil
	}
	if _, _, err := r.children().Apply(ctx, existing, desired); err != nil {
		if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) {
			return ctrl.Result{RequeueAfter: conditions.ConflictRetry}, nil
		}
		return ctrl.Result{}, fmt.Errorf("applying PodMonitor %s: %w", exp.Name, err)
	}
	every := ""
	if m.Interval != "" {
		every = " every " + m.Interval
	}
	conds.True(exposurev1alpha1.ConditionMetricsScraped, exposurev1alpha1.ReasonApplied, fmt.Sprintf(
		"PodMonitor %s asks the Prometheus Operator to scrape port %d of the pods%s, with tenant=%s and exposure=%s on every series (no Prometheus confirms it: check its targets)", exp.Name, *exp.Spec.Ports.Metrics, every, s.tenant.Name, exp.Name))
	return ctrl.Result{}, nil
}

// watchPodMonitors follows the exposures' PodMonitors, once the API is served.
func (r *Reconciler) watchPodMonitors(mgr ctrl.Manager) error {
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	if r.watched[podmonitor.GVK] || !r.APIs.Served(podmonitor.GVK) {
		return nil
	}
	if err := r.controller.Watch(source.Kind(mgr.GetCache(), client.Object(&monitoring.PodMonitor{}), enqueueControllingExposure)); err != nil {
		return fmt.Errorf("watching PodMonitors: %w", err)
	}
	r.watched[podmonitor.GVK] = true
	return nil
}
