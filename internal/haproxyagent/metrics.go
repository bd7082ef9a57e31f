package haproxyagent

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the agent's Prometheus metrics.
type Metrics struct {
	RuntimeUpdates  prometheus.Counter
	RuntimeCommands prometheus.Counter
	Reloads         *prometheus.CounterVec
	Failures        *prometheus.CounterVec
	ApplySeconds    prometheus.Histogram
	config          *prometheus.GaugeVec
	applied         prometheus.Gauge
}

// NewMetrics registers the agent's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns = "inference_exposure_haproxy_agent"
	m := &Metrics{
		RuntimeUpdates: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "runtime_updates_total",
			Help: "Configuration changes applied through the Runtime API, without a reload."}),
		RuntimeCommands: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "runtime_commands_total",
			Help: "Runtime API commands sent (set server addr/state)."}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "reloads_total",
			Help: "HAProxy reloads, by reason: global, frontend, backend, slots, certificate, runtime-unreachable, runtime-failed."}, []string{"reason"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "failures_total",
			Help: "Failures, by stage: read, validate (a configuration refused by haproxy -c), write, runtime, reload."}, []string{"stage"}),
		ApplySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "apply_duration_seconds",
			Help: "Time from noticing a new configuration to having applied it.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}),
		config: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "config_info",
			Help: "The configuration applied: 1 for its checksum."}, []string{"checksum"}),
		applied: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "config_applied_timestamp_seconds",
			Help: "When the current configuration was applied."}),
	}
	for _, r := range []string{ReasonGlobal, ReasonFrontend, ReasonBackend, ReasonSlots, ReasonCertificate, ReasonRuntimeUnreachable, ReasonRuntimeFailed} {
		m.Reloads.WithLabelValues(r)
	}
	for _, s := range []string{"read", "validate", "write", "runtime", "reload"} {
		m.Failures.WithLabelValues(s)
	}
	if reg != nil {
		reg.MustRegister(m.RuntimeUpdates, m.RuntimeCommands, m.Reloads, m.Failures, m.ApplySeconds, m.config, m.applied)
	}
	return m
}

// Applied records the checksum of the configuration now running.
func (m *Metrics) Applied(sum string) {
	m.config.Reset()
	m.config.WithLabelValues(sum).Set(1)
	m.applied.SetToCurrentTime()
}
