// Package inferencepool holds the part of the Gateway API Inference Extension's InferencePool
// (inference.networking.k8s.io/v1) that the operator writes and reads: the pods it selects, the
// ports, the endpoint picker and the status its parents report. Written here rather than
// imported, so that the operator does not depend on the extension's module; server-side apply
// sends these fields only, and the fields others set stay. Not a CRD of the operator's:
// controller-gen skips the package.
//
// +kubebuilder:skip
// +kubebuilder:object:generate=true
package inferencepool

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the InferencePool's API group and version.
var GroupVersion = schema.GroupVersion{Group: "inference.networking.k8s.io", Version: "v1"}

// Application protocols of a pool's target ports.
const (
	AppProtocolHTTP = "http"
	AppProtocolH2C  = "kubernetes.io/h2c"
)

// FairnessHeader carries the fairness key endpoint pickers share capacity by.
const FairnessHeader = "x-gateway-inference-fairness-id"

// +kubebuilder:object:root=true

// InferencePool is a set of model-server pods a Gateway routes to through an endpoint picker.
type InferencePool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              Spec   `json:"spec"`
	Status            Status `json:"status,omitempty"`
}

// Spec is the part of the spec the operator sets.
type Spec struct {
	Selector          LabelSelector      `json:"selector"`
	TargetPorts       []Port             `json:"targetPorts"`
	AppProtocol       string             `json:"appProtocol,omitempty"`
	EndpointPickerRef *EndpointPickerRef `json:"endpointPickerRef,omitempty"`
}

// LabelSelector selects pods by labels only.
type LabelSelector struct {
	MatchLabels map[string]string `json:"matchLabels"`
}

// Port is a port number of the pods.
type Port struct {
	Number int32 `json:"number"`
}

// EndpointPickerRef is a Service (kind and group empty) running the endpoint picker.
type EndpointPickerRef struct {
	Name        string `json:"name"`
	Port        *Port  `json:"port,omitempty"`
	FailureMode string `json:"failureMode,omitempty"`
}

// Status is what the pool's parents (the Gateways routing to it) report.
type Status struct {
	Parents []ParentStatus `json:"parents,omitempty"`
}

// ParentStatus is one parent's report.
type ParentStatus struct {
	ParentRef      ParentReference    `json:"parentRef"`
	ControllerName string             `json:"controllerName,omitempty"`
	Conditions     []metav1.Condition `json:"conditions,omitempty"`
}

// ParentReference names a parent, a Gateway by default.
type ParentReference struct {
	Group     *string `json:"group,omitempty"`
	Kind      string  `json:"kind,omitempty"`
	Name      string  `json:"name"`
	Namespace string  `json:"namespace,omitempty"`
}

// +kubebuilder:object:root=true

// InferencePoolList is a list of them.
type InferencePoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []InferencePool `json:"items"`
}

// AddToScheme registers the kinds.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &InferencePool{}, &InferencePoolList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
