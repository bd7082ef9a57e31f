package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PortBlockSpec asks for a block of consecutive NodePorts.
// +kubebuilder:validation:XValidation:rule="!has(self.start) || !has(self.size) || self.start + self.size - 1 <= 65535",message="portBlock.start + portBlock.size - 1 must not exceed 65535"
type PortBlockSpec struct {
	// start pins the first port of the block. It must lie in the operator's NodePort pool and be
	// aligned to the block size from the pool start (e.g. 30800 for size 100 in 30000-32767).
	// When unset, the allocator picks the first free aligned block.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Start *int32 `json:"start,omitempty"`

	// size is the number of consecutive NodePorts in the block, a multiple of 10.
	// When unset, the operator's --block-size (default 100) is used.
	// +optional
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=10000
	// +kubebuilder:validation:MultipleOf=10
	Size *int32 `json:"size,omitempty"`
}

// InferenceTenantSpec declares a tenant: the namespaces it owns and its NodePort block.
// +kubebuilder:validation:XValidation:rule="has(self.portBlock) == has(oldSelf.portBlock)",message="portBlock cannot be added or removed after creation: delete and recreate the tenant to move it"
// +kubebuilder:validation:XValidation:rule="!has(self.gateway) || has(self.hostDomain)",message="gateway needs hostDomain: the tenant's listeners serve *.<hostDomain>"
// +kubebuilder:validation:XValidation:rule="!has(self.gateway) || !has(self.gateway.namespace) || self.gateway.namespace in self.namespaces",message="gateway.namespace must be one of the tenant's namespaces"
type InferenceTenantSpec struct {
	// namespaces are the namespaces whose InferenceExposures belong to this tenant.
	// A namespace belongs to at most one tenant; when two tenants list it, the older keeps it.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespaces []string `json:"namespaces"`

	// portBlock pins the tenant's NodePort block or sets its size. Immutable once set: ports
	// already handed out would otherwise move under running clients.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="portBlock is immutable: delete and recreate the tenant to move or resize its block"
	PortBlock *PortBlockSpec `json:"portBlock,omitempty"`

	// haproxy puts this tenant into the operator's HAProxy configuration: TCP frontends on the
	// VIP for every exposed gRPC port, and an HTTPS frontend when a certificate is given.
	// +optional
	HAProxy *TenantHAProxySpec `json:"haproxy,omitempty"`

	// hostDomain is the DNS domain of the tenant's HTTPS hosts, e.g. alpha.apps.example.com.
	// An exposure's default host is <name>.<namespace>.<hostDomain>, and an explicit
	// router.host must lie under it.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$`
	HostDomain string `json:"hostDomain,omitempty"`

	// allowAnyHost lets the tenant's exposures set router.host and router.grpcHost to any
	// host, inside hostDomain or not. Off by default: a tenant without hostDomain then cannot
	// set explicit hosts at all, so it cannot take a host that belongs to someone else. A
	// platform decision, for tenants that bring their own domains.
	// +optional
	AllowAnyHost bool `json:"allowAnyHost,omitempty"`

	// allowedHosts are exceptions the platform grants this tenant to the host rules: an
	// explicit router.host or router.grpcHost that is one of them, or lies under a "*.domain"
	// entry, is accepted although it is outside hostDomain, and although a routing object the
	// operator did not make already serves it from another namespace (to move a hand-made
	// Ingress or Route into an exposure; remove the old object once the exposure serves). A
	// grant never reaches into another tenant's hostDomain: move the domain instead. Among
	// exposures, the older one still keeps a host.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$`
	AllowedHosts []string `json:"allowedHosts,omitempty"`

	// annotationPolicy widens or narrows which router.annotations the tenant's exposures may
	// put on their routing objects. By default the keys that inject configuration into a shared
	// router or reach into other namespaces are refused (ingress-nginx *-snippet, auth-*,
	// mirror-*, proxy-ssl-secret, server-alias; the same families of the OpenShift router and
	// the HAProxy ingress controllers), and an annotation the operator sets for correctness is
	// not overridden.
	// +optional
	AnnotationPolicy *AnnotationPolicy `json:"annotationPolicy,omitempty"`

	// endpointPicker is the endpoint picker of the tenant's exposures that ask for an
	// InferencePool (router.inferencePool) without naming one: a Service of this name in each
	// exposure's own namespace. Without either, the Gateway's implementation picks endpoints.
	// +optional
	EndpointPicker *EndpointPicker `json:"endpointPicker,omitempty"`

	// gateway puts the tenant's own HTTPS listeners on a shared Gateway, as a ListenerSet the
	// operator makes in one of the tenant's namespaces: *.<hostDomain> and the allowedHosts,
	// with the tenant's certificate, accepting routes from the tenant's namespaces only. The
	// tenant's exposures of router.type Gateway without a gateway.parentRef attach to it. The
	// Gateway must allow ListenerSets from that namespace (its spec.allowedListeners).
	// +optional
	Gateway *TenantGateway `json:"gateway,omitempty"`

	// metrics is how the tenant's exposures that declare ports.metrics and set no spec.metrics
	// are scraped (a PodMonitor each, where the Prometheus Operator's API is served).
	// +optional
	Metrics *MetricsSpec `json:"metrics,omitempty"`
}

// TenantGateway is the shared Gateway a tenant's listeners go on, and their certificate.
type TenantGateway struct {
	// parentRef is the shared Gateway.
	// +required
	ParentRef GatewayReference `json:"parentRef"`

	// namespace is where the ListenerSet lives: one of the tenant's namespaces. Default: the
	// first of spec.namespaces.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace,omitempty"`

	// port of the HTTPS listeners. Default 443.
	// +optional
	// +kubebuilder:default=443
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// certificate of the listeners: a Secret, or a cert-manager issuer.
	// +required
	Certificate TenantCertificate `json:"certificate"`
}

// GatewayReference names a Gateway.
type GatewayReference struct {
	// namespace of the Gateway.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace"`

	// name of the Gateway.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// TenantCertificate is where the listeners' certificate comes from: exactly one of secretRef
// and issuer.
// +kubebuilder:validation:XValidation:rule="has(self.secretRef) != has(self.issuer)",message="certificate: set exactly one of secretRef and issuer"
type TenantCertificate struct {
	// secretRef is a TLS Secret covering *.<hostDomain> and the allowedHosts. In another
	// namespace than the ListenerSet's (a platform namespace), a ReferenceGrant there must allow
	// ListenerSets of the ListenerSet's namespace to use it; the platform writes it.
	// +optional
	SecretRef *SecretReference `json:"secretRef,omitempty"`

	// issuer is a cert-manager Issuer (in the ListenerSet's namespace) or ClusterIssuer: the
	// ListenerSet carries cert-manager's annotation, and cert-manager issues the certificate
	// into the Secret <tenant>-gateway-tls of the ListenerSet's namespace. A wildcard needs a
	// DNS-01 solver.
	// +optional
	Issuer *IssuerReference `json:"issuer,omitempty"`
}

// SecretReference names a Secret.
type SecretReference struct {
	// namespace of the Secret. Default: the ListenerSet's.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace,omitempty"`

	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// IssuerReference names a cert-manager issuer.
type IssuerReference struct {
	// kind: Issuer or ClusterIssuer.
	// +optional
	// +kubebuilder:default=ClusterIssuer
	// +kubebuilder:validation:Enum=Issuer;ClusterIssuer
	Kind string `json:"kind,omitempty"`

	// name of the issuer.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// AnnotationPolicy lists annotation key patterns; * matches any run of characters.
type AnnotationPolicy struct {
	// allow names keys the tenant may set although they are refused by default, and
	// annotations of the operator the tenant may override, e.g.
	// "nginx.ingress.kubernetes.io/auth-url".
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	Allow []AnnotationPattern `json:"allow,omitempty"`
	// deny names further keys the tenant may not set, e.g. "nginx.ingress.kubernetes.io/*".
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	Deny []AnnotationPattern `json:"deny,omitempty"`
}

// AnnotationPattern is an annotation key, in which * matches any run of characters.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=317
// +kubebuilder:validation:Pattern=`^[A-Za-z0-9*]([-A-Za-z0-9_.*/]*[A-Za-z0-9*])?$`
type AnnotationPattern = string

// TenantHAProxySpec is the tenant's part of the HAProxy configuration.
type TenantHAProxySpec struct {
	// vip is the tenant's frontend IP address on the HAProxy hosts (IPv4 or IPv6).
	// +required
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self) && !ip(self).isUnspecified() && (ip(self).isGlobalUnicast() || ip(self).isLoopback())",message="haproxy.vip must be a unicast IP address such as 10.0.100.10 (not multicast, broadcast or link-local)"
	VIP string `json:"vip"`

	// certificatePath is the PEM file (certificate and key) on the HAProxy hosts for the
	// tenant's HTTPS frontend on vip:443. Without it the tenant gets no HTTPS frontend.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^(/[A-Za-z0-9._-]+)+$`
	// +kubebuilder:validation:XValidation:rule="!self.contains('/../') && !self.endsWith('/..')",message="haproxy.certificatePath must not contain '..'"
	CertificatePath string `json:"certificatePath,omitempty"`

	// grpcFrontendPorts are the ports the tenant's exposures may choose for their gRPC
	// frontends on vip (an exposure's haproxy.grpcFrontendPort). Default: the tenant's own
	// NodePort block. Ports the HAProxy hosts reserve (the operator's
	// --haproxy-reserved-ports: sshd, the kubelet, HAProxy's stats, the agent) are refused
	// within any range. An exposure that asks for a port outside gets HAProxyFrontend False.
	// +optional
	GRPCFrontendPorts *FrontendPortRange `json:"grpcFrontendPorts,omitempty"`
}

// FrontendPortRange is an inclusive range of ports.
// +kubebuilder:validation:XValidation:rule="self.start <= self.end",message="grpcFrontendPorts.start must not be above grpcFrontendPorts.end"
type FrontendPortRange struct {
	// start is the first port of the range.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Start int32 `json:"start"`
	// end is the last port of the range (inclusive).
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	End int32 `json:"end"`
}

// PortBlockStatus is the block a tenant holds.
type PortBlockStatus struct {
	// start is the first port of the block.
	Start int32 `json:"start"`
	// end is the last port of the block (inclusive).
	End int32 `json:"end"`
	// size is end - start + 1.
	Size int32 `json:"size"`
}

// InferenceTenantStatus is the observed state of an InferenceTenant.
type InferenceTenantStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// portBlock is the block of NodePorts the tenant holds.
	// +optional
	PortBlock *PortBlockStatus `json:"portBlock,omitempty"`

	// portsUsed counts the ports of the block held by the tenant's Services.
	// +optional
	PortsUsed int32 `json:"portsUsed"`

	// portsFree counts the ports of the block that can still be handed out.
	// +optional
	PortsFree int32 `json:"portsFree"`

	// foreignPorts lists ports of the block held by Services this operator does not manage.
	// They are skipped, never taken.
	// +optional
	// +listType=set
	ForeignPorts []int32 `json:"foreignPorts,omitempty"`

	// namespaces are the namespaces this tenant actually owns (those not kept by an older tenant).
	// +optional
	// +listType=set
	Namespaces []string `json:"namespaces,omitempty"`

	// conditions: Ready, Reconciling and Stalled (kstatus), BlockAllocated, NamespacesExclusive
	// and HAProxyConfigured.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// InferenceTenant is a team of a multi-tenant inference cluster: the namespaces it owns and the
// block of NodePorts its exposures draw from.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=itenant,categories=inference
// +kubebuilder:printcolumn:name="Block-Start",type=integer,JSONPath=`.status.portBlock.start`
// +kubebuilder:printcolumn:name="Block-End",type=integer,JSONPath=`.status.portBlock.end`
// +kubebuilder:printcolumn:name="Used",type=integer,JSONPath=`.status.portsUsed`
// +kubebuilder:printcolumn:name="Free",type=integer,JSONPath=`.status.portsFree`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS-1123 label (lower case letters, digits and '-', at most 63 characters): it is used in label values"
type InferenceTenant struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the tenant.
	// +required
	Spec InferenceTenantSpec `json:"spec"`

	// status is written by the operator.
	// +optional
	Status InferenceTenantStatus `json:"status,omitempty"`
}

// InferenceTenantList is a list of InferenceTenants.
// +kubebuilder:object:root=true
type InferenceTenantList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []InferenceTenant `json:"items"`
}

func init() {
	SchemeBuilder.Register(&InferenceTenant{}, &InferenceTenantList{})
}
