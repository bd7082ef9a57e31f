package router

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// Merge lays desired over existing: the spec becomes desired's, the operator's labels and
// annotations are set, annotations the operator set before but no longer wants are removed,
// and everyone else's labels and annotations stay. changed is false when existing already
// holds everything desired asks for (fields the API server defaulted do not count), so a
// steady state writes nothing.
func Merge(existing, desired client.Object) (client.Object, bool, error) {
	have, err := runtime.DefaultUnstructuredConverter.ToUnstructured(existing)
	if err != nil {
		return nil, false, fmt.Errorf("converting %T: %w", existing, err)
	}
	want, err := runtime.DefaultUnstructuredConverter.ToUnstructured(desired)
	if err != nil {
		return nil, false, fmt.Errorf("converting %T: %w", desired, err)
	}
	labels := mergeMap(existing.GetLabels(), desired.GetLabels(), nil)
	annotations := mergeMap(existing.GetAnnotations(), desired.GetAnnotations(), dropped(existing, desired))
	owners := existing.GetOwnerReferences()
	ownerMissing := false
	for _, want := range desired.GetOwnerReferences() {
		found := false
		for _, o := range owners {
			if o.UID == want.UID {
				found = true
			}
		}
		if !found {
			owners = append(owners, want)
			ownerMissing = true
		}
	}
	if contains(have["spec"], want["spec"]) && !ownerMissing &&
		equality.Semantic.DeepEqual(labels, existing.GetLabels()) &&
		equality.Semantic.DeepEqual(annotations, nonNil(existing.GetAnnotations())) {
		return existing, false, nil
	}
	have["spec"] = want["spec"]
	merged := reflect.New(reflect.TypeOf(existing).Elem()).Interface().(client.Object)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(have, merged); err != nil {
		return nil, false, fmt.Errorf("converting back to %T: %w", existing, err)
	}
	merged.SetLabels(labels)
	merged.SetAnnotations(annotations)
	merged.SetOwnerReferences(owners)
	return merged, true, nil
}

// dropped are the annotation keys the operator set on existing that desired no longer has.
func dropped(existing, desired client.Object) map[string]bool {
	out := map[string]bool{}
	prev := existing.GetAnnotations()[exposurev1alpha1.AnnotationManagedAnnotations]
	if prev == "" {
		return out
	}
	want := desired.GetAnnotations()
	for _, k := range strings.Split(prev, ",") {
		if _, ok := want[k]; !ok {
			out[k] = true
		}
	}
	if _, ok := want[exposurev1alpha1.AnnotationManagedAnnotations]; !ok {
		out[exposurev1alpha1.AnnotationManagedAnnotations] = true
	}
	return out
}

func mergeMap(have, want map[string]string, drop map[string]bool) map[string]string {
	out := map[string]string{}
	for k, v := range have {
		if !drop[k] {
			out[k] = v
		}
	}
	for k, v := range want {
		out[k] = v
	}
	return out
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// contains reports whether have holds every value of want. Maps may have extra keys (fields
// the API server defaulted); lists must have the same length and hold want's items in order.
func contains(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		for k, wv := range w {
			if !contains(h[k], wv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		if len(h) != len(w) {
			return false
		}
		for i := range w {
			if !contains(h[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(normalize(have), normalize(want))
	}
}

// normalize makes numbers comparable whatever their Go type after conversion.
func normalize(v any) any {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int32:
		return int64(n)
	case float64:
		if n == float64(int64(n)) {
			return int64(n)
		}
	}
	return v
}

// Keys lists object keys as Kind/name for status, sorted.
func Keys(objs []client.Object) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.GetObjectKind().GroupVersionKind().Kind+"/"+o.GetName())
	}
	sort.Strings(out)
	return out
}
