// Command olm-validate validates an OLM registry+v1 bundle with the operator-framework's
// validation library: the default bundle validators, and the optional OperatorHub suite
// (OperatorHubV2, standard categories and capabilities, good practices). A module of its own, so
// that the operator's module does not take the library's dependencies.
//
//	go run . -k8s-version 1.31 ../../bundle
//
// It prints every result and exits 1 when any is an error (warnings are printed, not fatal).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/validation"
)

func main() {
	k8sVersion := flag.String("k8s-version", "1.31", "the oldest Kubernetes version the bundle supports, for the deprecated-API checks")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: olm-validate [-k8s-version 1.31] <bundle directory>")
		os.Exit(2)
	}
	bundle, err := manifests.GetBundleFromDir(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "loading the bundle:", err)
		os.Exit(1)
	}
	validators := validation.DefaultBundleValidators.WithValidators(
		validation.OperatorHubV2Validator,
		validation.StandardCategoriesValidator,
		validation.StandardCapabilitiesValidator,
		validation.GoodPracticesValidator,
		validation.AlphaDeprecatedAPIsValidator,
		validation.ObjectValidator,
	)
	objs := append(bundle.ObjectsToValidate(), bundle, map[string]string{"k8s-version": *k8sVersion})
	results := validators.Validate(objs...)
	failed, warnings := false, 0
	for _, r := range results {
		for _, e := range r.Errors {
			failed = true
			fmt.Printf("ERROR   %s: %s\n", r.Name, e.Error())
		}
		for _, w := range r.Warnings {
			warnings++
			fmt.Printf("WARNING %s: %s\n", r.Name, w.Error())
		}
	}
	if failed {
		os.Exit(1)
	}
	fmt.Printf("bundle %s: valid (%d validator results, %d warnings)\n", bundle.Name, len(results), warnings)
}
