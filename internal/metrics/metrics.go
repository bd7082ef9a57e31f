// Package metrics holds the operator's own Prometheus metrics, served on the manager's metrics
// endpoint beside controller-runtime's.
package metrics

import (
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// BlockPorts reports each tenant block's ports by state: used, free, foreign.
	BlockPorts = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "inference_exposure_tenant_block_ports",
		Help: "Ports of a tenant's NodePort block by state: used (by the tenant's Services), free, foreign (held by Services the operator does not manage).",
	}, []string{"tenant", "state"})

	// HAProxyRenders counts configuration renders by outcome: written or unchanged.
	HAProxyRenders = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "inference_exposure_haproxy_renders_total",
		Help: "HAProxy configuration renders, by result: written (the ConfigMap changed) or unchanged.",
	}, []string{"result"})

	// HAProxyRenderSeconds is how long a render that wrote took, from listing its inputs to
	// the last ConfigMap written; during a burst the renders are spaced by it.
	HAProxyRenderSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "inference_exposure_haproxy_render_seconds",
		Help:    "Time a render of the HAProxy configuration that wrote a ConfigMap took, including its writes.",
		Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	})

	// HAProxyConfigBytes is the size of the last rendered configuration.
	HAProxyConfigBytes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "inference_exposure_haproxy_config_bytes",
		Help: "Size of the last rendered haproxy.cfg in bytes.",
	})

	// HAProxyRejectedTenants is the number of tenants left out of the last rendered configuration.
	HAProxyRejectedTenants = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "inference_exposure_haproxy_rejected_tenants",
		Help: "Tenants left out of the last rendered HAProxy configuration (see their HAProxyConfigured condition).",
	})
)

// ConditionKey is a condition type and status.
type ConditionKey struct{ Type, Status string }

var (
	exposuresDesc = prometheus.NewDesc("inference_exposure_exposures",
		"InferenceExposures by condition type and status (Ready, Stalled, PortsAllocated, Routed, ...).",
		[]string{"condition", "status"}, nil)
	exposureCounter atomic.Pointer[func() map[ConditionKey]int]
)

// exposureCollector counts exposures when scraped, from the operator's cache: always current,
// no series left behind by deleted exposures.
type exposureCollector struct{}

func (exposureCollector) Describe(ch chan<- *prometheus.Desc) { ch <- exposuresDesc }

func (exposureCollector) Collect(ch chan<- prometheus.Metric) {
	count := exposureCounter.Load()
	if count == nil {
		return
	}
	for k, n := range (*count)() {
		ch <- prometheus.MustNewConstMetric(exposuresDesc, prometheus.GaugeValue, float64(n), k.Type, k.Status)
	}
}

// CountExposuresWith sets the function that counts exposures by condition at scrape time.
func CountExposuresWith(f func() map[ConditionKey]int) { exposureCounter.Store(&f) }

// collectors are the operator's own metrics, registered with controller-runtime's registry.
func collectors() []prometheus.Collector {
	return []prometheus.Collector{BlockPorts, HAProxyRenders, HAProxyRenderSeconds, HAProxyConfigBytes, HAProxyRejectedTenants, haproxyWriter, exposureCollector{}}
}

func init() {
	crmetrics.Registry.MustRegister(collectors()...)
}

// Names are the names of the operator's own metrics, from their descriptions (for the tests
// that check alerting rules and dashboards against what the code exports).
func Names() []string {
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range collectors() {
			c.Describe(ch)
		}
		close(ch)
	}()
	var out []string
	for d := range ch {
		// A Desc prints as Desc{fqName: "name", ...}.
		s := d.String()
		if i := strings.Index(s, `fqName: "`); i >= 0 {
			rest := s[i+len(`fqName: "`):]
			out = append(out, rest[:strings.IndexByte(rest, '"')])
		}
	}
	return out
}

// SetBlock records a tenant's block usage.
func SetBlock(tenant string, used, free, foreign int) {
	BlockPorts.WithLabelValues(tenant, "used").Set(float64(used))
	BlockPorts.WithLabelValues(tenant, "free").Set(float64(free))
	BlockPorts.WithLabelValues(tenant, "foreign").Set(float64(foreign))
}

// ForgetTenant drops a deleted tenant's series.
func ForgetTenant(tenant string) {
	BlockPorts.DeletePartialMatch(prometheus.Labels{"tenant": tenant})
}

// haproxyWriter is 1 for the state this operator is in: writing the HAProxy ConfigMaps, or
// standing by while another operator holds their writer Lease.
var haproxyWriter = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "inference_exposure_haproxy_writer",
	Help: "1 for this operator's state towards the HAProxy ConfigMaps: writing, or standby (another operator holds the writer Lease).",
}, []string{"state"})

// SetHAProxyWriter records whether this operator writes the HAProxy ConfigMaps.
func SetHAProxyWriter(state string) {
	for _, s := range []string{"writing", "standby"} {
		v := 0.0
		if s == state {
			v = 1
		}
		haproxyWriter.WithLabelValues(s).Set(v)
	}
}
