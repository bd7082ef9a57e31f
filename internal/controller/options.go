// Package controller wires the operator's reconcilers into a manager: one package per
// reconciler (exposure, tenant, haproxyconfig), over shared plumbing named for what it does
// (childapply writes children, conditions writes status, kubecache reads the cluster,
// servedapis says which routing APIs exist). The reconciler packages never import each other.
package controller

import (
	"time"

	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
	"github.com/inference-exposure/inference-exposure-operator/internal/controller/haproxyconfig"
)

// Options configure the reconcilers; they come from the command's flags.
type Options struct {
	Pool             allocator.Pool
	DefaultBlockSize int32
	MaxConcurrent    int
	// APIPollInterval is how often discovery is asked which routing APIs are served.
	APIPollInterval time.Duration
	// HAProxy enables the HAProxy configuration ConfigMap when set.
	HAProxy *haproxyconfig.Settings
	// ReportTimeout is how long a routing object waits for its controller's first report
	// before the exposure turns Stalled (exposure.DefaultReportTimeout when zero).
	ReportTimeout time.Duration
	// InlineCertificates lets Routes carry a certificate copied from a Secret
	// (router.tls.inline); the operator then needs to read Secrets.
	InlineCertificates bool
}
