package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PortClaimSpec records which tenant holds a range of NodePorts.
type PortClaimSpec struct {
	// tenant is the name of the InferenceTenant holding the range.
	// +required
	Tenant string `json:"tenant"`
	// tenantUID is the UID of that InferenceTenant, so a recreated tenant of the same name is
	// not mistaken for the old one.
	// +required
	TenantUID string `json:"tenantUID"`
	// start is the first port of the claimed range.
	// +required
	Start int32 `json:"start"`
	// end is the last port of the claimed range (inclusive).
	// +required
	End int32 `json:"end"`
}

// PortClaim is the operator's lock on a range of NodePorts (one per 10 ports, named
// ports-<start>-<end>). Creating it takes the range; AlreadyExists means another tenant holds it.
// Users read them; only the operator writes them.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=inference
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.spec.tenant`
// +kubebuilder:printcolumn:name="Start",type=integer,JSONPath=`.spec.start`
// +kubebuilder:printcolumn:name="End",type=integer,JSONPath=`.spec.end`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.spec == oldSelf.spec",message="a PortClaim is immutable: delete it to release the range"
type PortClaim struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec records the holder of the range.
	// +required
	Spec PortClaimSpec `json:"spec"`
}

// PortClaimList is a list of PortClaims.
// +kubebuilder:object:root=true
type PortClaimList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PortClaim `json:"items"`
}

func init() {
	SchemeBuilder.Register(&PortClaim{}, &PortClaimList{})
}
