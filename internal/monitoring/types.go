// Package monitoring holds the part of the Prometheus Operator's PodMonitor
// (monitoring.coreos.com/v1) that the operator writes: the pods it selects, the endpoint it
// scrapes and the relabelings that put the tenant and the exposure on every series. Written here
// rather than imported, so that the operator does not depend on the Prometheus Operator's
// module; server-side apply sends these fields only, and the fields others set stay. Not a CRD
// of the operator's: controller-gen skips the package.
//
// +kubebuilder:skip
// +kubebuilder:object:generate=true
package monitoring

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the Prometheus Operator's API group and version.
var GroupVersion = schema.GroupVersion{Group: "monitoring.coreos.com", Version: "v1"}

// +kubebuilder:object:root=true

// PodMonitor tells a Prometheus which pods to scrape, and how.
type PodMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              PodMonitorSpec `json:"spec"`
}

// PodMonitorSpec is the part of the spec the operator sets.
type PodMonitorSpec struct {
	Selector            metav1.LabelSelector `json:"selector"`
	PodMetricsEndpoints []PodMetricsEndpoint `json:"podMetricsEndpoints"`
}

// PodMetricsEndpoint is one endpoint of the pods to scrape.
type PodMetricsEndpoint struct {
	PortNumber    *int32          `json:"portNumber,omitempty"`
	Path          string          `json:"path,omitempty"`
	Interval      string          `json:"interval,omitempty"`
	ScrapeTimeout string          `json:"scrapeTimeout,omitempty"`
	HonorLabels   bool            `json:"honorLabels,omitempty"`
	Relabelings   []RelabelConfig `json:"relabelings,omitempty"`
}

// RelabelConfig is one relabeling of the scraped targets.
type RelabelConfig struct {
	Action      string  `json:"action,omitempty"`
	TargetLabel string  `json:"targetLabel,omitempty"`
	Replacement *string `json:"replacement,omitempty"`
}

// +kubebuilder:object:root=true

// PodMonitorList is a list of them.
type PodMonitorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PodMonitor `json:"items"`
}

// AddToScheme registers the kinds.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &PodMonitor{}, &PodMonitorList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
