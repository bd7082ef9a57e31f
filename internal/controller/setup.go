package controller

import (
	"context"
	"fmt"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/controller/exposure"
	"github.com/inference-exposure/inference-exposure-operator/internal/controller/haproxyconfig"
	"github.com/inference-exposure/inference-exposure-operator/internal/controller/tenant"
	"github.com/inference-exposure/inference-exposure-operator/internal/envoygateway"
	"github.com/inference-exposure/inference-exposure-operator/internal/inferencepool"
	"github.com/inference-exposure/inference-exposure-operator/internal/kubecache"
	"github.com/inference-exposure/inference-exposure-operator/internal/metrics"
	"github.com/inference-exposure/inference-exposure-operator/internal/monitoring"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/podmonitor"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/tenantgateway"
	"github.com/inference-exposure/inference-exposure-operator/internal/servedapis"
)

// countConditions counts exposures by condition type and status.
func countConditions(items []*exposurev1alpha1.InferenceExposure) map[metrics.ConditionKey]int {
	out := map[metrics.ConditionKey]int{}
	for _, e := range items {
		for _, c := range e.Status.Conditions {
			out[metrics.ConditionKey{Type: c.Type, Status: string(c.Status)}]++
		}
	}
	return out
}

// DefaultAPIPollInterval is how often the operator asks discovery which routing APIs exist.
const DefaultAPIPollInterval = 30 * time.Second

// AddToScheme registers every kind the operator reads or writes.
func AddToScheme(s *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, exposurev1alpha1.AddToScheme, routev1.Install, gatewayv1.Install, envoygateway.AddToScheme, inferencepool.AddToScheme, monitoring.AddToScheme} {
		if err := add(s); err != nil {
			return err
		}
	}
	return nil
}

// Setup registers every controller of the operator with the manager.
func Setup(mgr ctrl.Manager, opts Options) error {
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 1
	}
	if err := kubecache.SetupIndexes(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	ports, err := kubecache.WatchNodePorts(context.Background(), mgr.GetCache())
	if err != nil {
		return err
	}
	held, err := kubecache.WatchClaims(context.Background(), mgr.GetCache())
	if err != nil {
		return err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(mgr.GetConfig())
	if err != nil {
		return fmt.Errorf("discovery client: %w", err)
	}
	if opts.ReportTimeout <= 0 {
		opts.ReportTimeout = exposure.DefaultReportTimeout
	}
	if opts.APIPollInterval <= 0 {
		opts.APIPollInterval = DefaultAPIPollInterval
	}
	apis := &servedapis.APIs{Discovery: disc, Interval: opts.APIPollInterval, Also: []schema.GroupVersionKind{tenantgateway.GVK, podmonitor.GVK}}
	apis.Refresh(context.Background())
	if err := mgr.Add(apis); err != nil {
		return fmt.Errorf("adding API discovery: %w", err)
	}
	if err := (&tenant.Reconciler{
		Client:           mgr.GetClient(),
		APIReader:        mgr.GetAPIReader(),
		Recorder:         mgr.GetEventRecorderFor("inferencetenant-controller"), //nolint:staticcheck // core/v1 Events show in kubectl describe on every cluster version
		Ports:            ports,
		Cache:            mgr.GetCache(),
		Pool:             opts.Pool,
		DefaultBlockSize: opts.DefaultBlockSize,
		MaxConcurrent:    opts.MaxConcurrent,
		HAProxy:          opts.HAProxy != nil,
		APIs:             apis,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up tenant controller: %w", err)
	}
	if err := (&exposure.Reconciler{
		Client:             mgr.GetClient(),
		APIReader:          mgr.GetAPIReader(),
		Recorder:           mgr.GetEventRecorderFor("inferenceexposure-controller"), //nolint:staticcheck // see above
		APIs:               apis,
		Ports:              ports,
		Held:               held,
		Cache:              mgr.GetCache(),
		MaxConcurrent:      opts.MaxConcurrent,
		InlineCertificates: opts.InlineCertificates,
		ReportTimeout:      opts.ReportTimeout,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up exposure controller: %w", err)
	}
	metrics.CountExposuresWith(func() map[metrics.ConditionKey]int {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		exposures, err := kubecache.Objects[*exposurev1alpha1.InferenceExposure](ctx, mgr.GetCache(), mgr.GetClient(), &exposurev1alpha1.InferenceExposureList{})
		if err != nil {
			return nil
		}
		return countConditions(exposures)
	})
	if opts.HAProxy != nil {
		writer, err := haproxyconfig.NewWriter(mgr.GetConfig(), *opts.HAProxy, mgr.GetEventRecorderFor("haproxy-controller")) //nolint:staticcheck // see above
		if err != nil {
			return fmt.Errorf("haproxy writer lease: %w", err)
		}
		if err := mgr.Add(writer); err != nil {
			return fmt.Errorf("adding the haproxy writer: %w", err)
		}
		if err := (&haproxyconfig.Reconciler{
			Writer:    writer,
			Client:    mgr.GetClient(),
			Cache:     mgr.GetCache(),
			APIReader: mgr.GetAPIReader(),
			Recorder:  mgr.GetEventRecorderFor("haproxy-controller"), //nolint:staticcheck // see above
			Settings:  *opts.HAProxy,
		}).SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up haproxy controller: %w", err)
		}
	}
	return nil
}
