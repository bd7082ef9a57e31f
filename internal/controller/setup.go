package controller

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
)

// Setup registers every controller of the operator with the manager.
func Setup(mgr ctrl.Manager, opts Options) error {
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 1
	}
	if err := (&TenantReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorderFor("inferencetenant-controller"), //nolint:staticcheck // core/v1 Events show in kubectl describe on every cluster version
		Options:   opts,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up tenant controller: %w", err)
	}
	if err := (&ExposureReconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorderFor("inferenceexposure-controller"), //nolint:staticcheck // see above
		Options:  opts,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up exposure controller: %w", err)
	}
	if opts.HAProxy != nil {
		if err := (&HAProxyReconciler{
			Client:   mgr.GetClient(),
			Recorder: mgr.GetEventRecorderFor("haproxy-controller"), //nolint:staticcheck // see above
			Settings: *opts.HAProxy,
		}).SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up haproxy controller: %w", err)
		}
	}
	return nil
}
