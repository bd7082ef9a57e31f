package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ExposurePorts are the model server's container ports.
// +kubebuilder:validation:XValidation:rule="has(self.http) || has(self.grpc)",message="ports: declare at least one of http or grpc"
// +kubebuilder:validation:XValidation:rule="!has(self.http) || !has(self.grpc) || self.http != self.grpc",message="ports: http and grpc must be different port numbers"
// +kubebuilder:validation:XValidation:rule="!has(self.http) || !has(self.metrics) || self.http != self.metrics",message="ports: http and metrics must be different port numbers"
// +kubebuilder:validation:XValidation:rule="!has(self.grpc) || !has(self.metrics) || self.grpc != self.metrics",message="ports: grpc and metrics must be different port numbers"
type ExposurePorts struct {
	// http is the model server's HTTP/REST port (Triton 8000, vLLM 8000, TGI 80).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	HTTP *int32 `json:"http,omitempty"`

	// grpc is the model server's gRPC port (Triton 8001). Exposed with appProtocol kubernetes.io/h2c.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	GRPC *int32 `json:"grpc,omitempty"`

	// metrics is the model server's Prometheus metrics port (Triton 8002).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Metrics *int32 `json:"metrics,omitempty"`
}

// LabelValue is a Kubernetes label value.
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:Pattern=`^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$`
type LabelValue string

// ExternalTrafficPolicy mirrors the Service field of the same name.
// +kubebuilder:validation:Enum=Cluster;Local
type ExternalTrafficPolicy string

const (
	// ExternalTrafficPolicyCluster lets every node forward to every endpoint.
	ExternalTrafficPolicyCluster ExternalTrafficPolicy = "Cluster"
	// ExternalTrafficPolicyLocal only answers on nodes running an endpoint and keeps client IPs.
	ExternalTrafficPolicyLocal ExternalTrafficPolicy = "Local"
)

// NodePortSpec configures the NodePort Service.
// +kubebuilder:validation:XValidation:rule="!(has(self.enabled) && !self.enabled && has(self.externalTrafficPolicy) && self.externalTrafficPolicy == 'Local')",message="nodePort.externalTrafficPolicy Local needs nodePort.enabled true: a ClusterIP Service has no external traffic"
type NodePortSpec struct {
	// enabled creates a NodePort Service with ports from the tenant's block. Set false for an
	// HTTPS-only exposure: the Service is ClusterIP and takes no ports from the block.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// externalTrafficPolicy of the Service: Cluster (default) or Local (keeps client source IPs,
	// only nodes with a ready endpoint answer).
	// +optional
	// +kubebuilder:default=Cluster
	ExternalTrafficPolicy ExternalTrafficPolicy `json:"externalTrafficPolicy,omitempty"`

	// metrics also gives ports.metrics a node port (the default, as before). Set false when
	// Prometheus scrapes the pods from inside the cluster (spec.metrics): the metrics port then
	// stays off the Service and takes no port from the tenant's block.
	// +optional
	// +kubebuilder:default=true
	Metrics *bool `json:"metrics,omitempty"`
}

// InferenceExposureSpec declares how a model server is exposed.
// +kubebuilder:validation:XValidation:rule="!has(self.haproxy) || !has(self.haproxy.grpcFrontendPort) || has(self.ports.grpc)",message="haproxy.grpcFrontendPort needs ports.grpc"
// +kubebuilder:validation:XValidation:rule="!has(self.router) || !has(self.router.grpc) || !self.router.grpc || has(self.ports.grpc)",message="router.grpc needs ports.grpc: there is no gRPC port to route to"
// +kubebuilder:validation:XValidation:rule="!has(self.router) || self.router.type == 'None' || has(self.ports.http) || (has(self.router.grpc) && self.router.grpc)",message="router needs ports.http for HTTPS routing (or router.grpc true for a gRPC-only exposure, or router.type None)"
// +kubebuilder:validation:XValidation:rule="!has(self.router) || !has(self.router.paths) || has(self.ports.http)",message="router.paths needs ports.http: paths route to the http port"
// +kubebuilder:validation:XValidation:rule="!has(self.metrics) || has(self.ports.metrics)",message="metrics needs ports.metrics: there is no metrics port to scrape"
type InferenceExposureSpec struct {
	// selector selects the model server's pods; it becomes the Service's selector.
	// +required
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.size() <= 317 && k.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$'))",message="selector keys must be valid label keys: an optional DNS prefix and '/', then at most 63 characters of letters, digits, '-', '_' and '.'"
	Selector map[string]LabelValue `json:"selector"`

	// ports are the model server's container ports; at least one of http or grpc.
	// +required
	Ports ExposurePorts `json:"ports"`

	// nodePort configures the NodePort Service.
	// +optional
	// +kubebuilder:default={}
	NodePort NodePortSpec `json:"nodePort,omitempty"`

	// haproxy tunes this exposure's frontends in the operator's HAProxy configuration.
	// +optional
	HAProxy *ExposureHAProxySpec `json:"haproxy,omitempty"`

	// router gives the exposure an HTTPS path (and optionally gRPC over TLS) through an
	// Ingress, an OpenShift Route or a Gateway API route. Absent: no routing objects.
	// +optional
	Router *RouterSpec `json:"router,omitempty"`

	// metrics has the Prometheus Operator scrape ports.metrics of the exposure's pods (a
	// PodMonitor), with the tenant and the exposure on every series. Default: the tenant's
	// spec.metrics, for an exposure that declares ports.metrics.
	// +optional
	Metrics *MetricsSpec `json:"metrics,omitempty"`
}

// MetricsSpec is how the model server's metrics port is scraped.
// +kubebuilder:validation:XValidation:rule="!has(self.interval) || !has(self.scrapeTimeout) || duration(self.scrapeTimeout) <= duration(self.interval)",message="metrics.scrapeTimeout must not be longer than metrics.interval"
type MetricsSpec struct {
	// podMonitor makes a PodMonitor (monitoring.coreos.com/v1) in the exposure's namespace that
	// scrapes ports.metrics of the pods the exposure selects, where the cluster serves the API.
	// Set false to scrape the port some other way.
	// +optional
	// +kubebuilder:default=true
	PodMonitor *bool `json:"podMonitor,omitempty"`

	// interval between scrapes, e.g. 30s. Default: the Prometheus's own.
	// +optional
	// +kubebuilder:validation:Pattern=`^([0-9]{1,5}(h|m|s|ms)){1,4}$`
	// +kubebuilder:validation:MaxLength=24
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('24h')",message="metrics.interval must be between 1s and 24h"
	Interval string `json:"interval,omitempty"`

	// scrapeTimeout of one scrape, at most interval. Default: the Prometheus's own.
	// +optional
	// +kubebuilder:validation:Pattern=`^([0-9]{1,5}(h|m|s|ms)){1,4}$`
	// +kubebuilder:validation:MaxLength=24
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('24h')",message="metrics.scrapeTimeout must be between 1s and 24h"
	ScrapeTimeout string `json:"scrapeTimeout,omitempty"`

	// path of the metrics endpoint. Default /metrics.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^/[A-Za-z0-9/._~-]*$`
	Path string `json:"path,omitempty"`

	// labels are put on the PodMonitor itself, e.g. for a Prometheus's podMonitorSelector
	// (release: prometheus). They do not reach the series: the tenant and the exposure do.
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 317 && size(self[k]) <= 63)",message="metrics.labels: keys of at most 317 and values of at most 63 characters"
	Labels map[string]string `json:"labels,omitempty"`
}

// ExposureHAProxySpec tunes an exposure's HAProxy frontends.
type ExposureHAProxySpec struct {
	// grpcFrontendPort is the port of the gRPC frontend on the tenant's VIP, e.g. 8001 so that
	// clients keep Triton's usual port. Default: the grpc nodePort. It must be within the
	// tenant's spec.haproxy.grpcFrontendPorts (default: the tenant's NodePort block) and not
	// reserved on the HAProxy hosts; of two exposures that choose the same port on a shared
	// VIP, the one created first keeps it.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	GRPCFrontendPort *int32 `json:"grpcFrontendPort,omitempty"`
}

// NodePorts are the nodePorts allocated to an exposure.
type NodePorts struct {
	// http is the nodePort of the http port.
	// +optional
	HTTP int32 `json:"http,omitempty"`
	// grpc is the nodePort of the grpc port.
	// +optional
	GRPC int32 `json:"grpc,omitempty"`
	// metrics is the nodePort of the metrics port.
	// +optional
	Metrics int32 `json:"metrics,omitempty"`
}

// InferenceExposureStatus is the observed state of an InferenceExposure.
type InferenceExposureStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// tenant is the InferenceTenant that owns the exposure's namespace.
	// +optional
	Tenant string `json:"tenant,omitempty"`

	// serviceName is the Service the operator manages for this exposure.
	// +optional
	ServiceName string `json:"serviceName,omitempty"`

	// nodePorts are the nodePorts allocated from the tenant's block. They are kept across
	// restarts and handed back when the Service has to be recreated.
	// +optional
	NodePorts *NodePorts `json:"nodePorts,omitempty"`

	// url is the HTTPS URL of the first routed path.
	// +optional
	URL string `json:"url,omitempty"`

	// grpcAddress is host:port of the gRPC route, for gRPC clients over TLS.
	// +optional
	GRPCAddress string `json:"grpcAddress,omitempty"`

	// router is what spec.router resolved to.
	// +optional
	Router *RouterStatus `json:"router,omitempty"`

	// conditions: Ready, Reconciling and Stalled (kstatus), TenantResolved, PortsAllocated,
	// ServiceReady, Routed and one per
	// routing object (IngressReady, RouteAdmitted, HTTPRouteAccepted, GRPCRouteAccepted, ...).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// InferenceExposure exposes one model server: a NodePort Service whose ports come from the
// tenant's port block.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=iexp,categories=inference
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.status.tenant`
// +kubebuilder:printcolumn:name="HTTP",type=integer,JSONPath=`.status.nodePorts.http`
// +kubebuilder:printcolumn:name="gRPC",type=integer,JSONPath=`.status.nodePorts.grpc`
// +kubebuilder:printcolumn:name="Metrics",type=integer,priority=1,JSONPath=`.status.nodePorts.metrics`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS-1035 label (start with a letter; lower case letters, digits and '-'; at most 63 characters): it names the Service"
type InferenceExposure struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares what to expose.
	// +required
	Spec InferenceExposureSpec `json:"spec"`

	// status is written by the operator.
	// +optional
	Status InferenceExposureStatus `json:"status,omitempty"`
}

// InferenceExposureList is a list of InferenceExposures.
// +kubebuilder:object:root=true
type InferenceExposureList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []InferenceExposure `json:"items"`
}

func init() {
	SchemeBuilder.Register(&InferenceExposure{}, &InferenceExposureList{})
}
