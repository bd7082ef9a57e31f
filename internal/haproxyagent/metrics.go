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
	desiredRunning  prometheus.Gauge
	leftOut         prometheus.Gauge
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
			Help: "Failures, by stage: read, validate (a configuration refused by haproxy -c, once per configuration), bind (a frontend left out: its bind fails on this host, once per frontend), reload (a configuration HAProxy could not start, once per configuration), write, runtime."}, []string{"stage"}),
		ApplySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "apply_duration_seconds",
			Help: "Time from noticing a new configuration to having applied it.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}),
		config: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "config_info",
			Help: "The configuration applied: 1 for its checksum."}, []string{"checksum"}),
		applied: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "config_applied_timestamp_seconds",
			Help: "When the current configuration was applied."}),
		desiredRunning: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "desired_config_running",
			Help: "1 when HAProxy runs the desired configuration whole; 0 while a part of it is refused or left out."}),
		leftOut: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "frontends_left_out",
			Help: "Frontends of the desired configuration not loaded because their bind fails on this host."}),
	}
	for _, r := range []string{ReasonGlobal, ReasonFrontend, ReasonBackend, ReasonSlots, ReasonCertificate, ReasonRuntimeUnreachable, ReasonRuntimeFailed} {
		m.Reloads.WithLabelValues(r)
	}
	for _, s := range []string{"read", "validate", "bind", "write", "runtime", "reload"} {
		m.Failures.WithLabelValues(s)
	}
	if reg != nil {
		reg.MustRegister(m.RuntimeUpdates, m.RuntimeCommands, m.Reloads, m.Failures, m.ApplySeconds, m.config, m.applied, m.desiredRunning, m.leftOut)
	}
	return m
}

// Applied records the checksum of the configuration now running.
func (m *Metrics) Applied(sum string) {
	m.config.Reset()
	m.config.WithLabelValues(sum).Set(1)
	m.applied.SetToCurrentTime()
}

// DesiredRunning records whether the desired configuration runs whole, and how many frontends
// are left out of it.
func (m *Metrics) DesiredRunning(running bool, leftOut int) {
	v := 0.0
	if running {
		v = 1
	}
	m.desiredRunning.Set(v)
	m.leftOut.Set(float64(leftOut))
}
