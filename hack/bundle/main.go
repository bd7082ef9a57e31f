// Command bundle writes the operator's OLM registry+v1 bundle and a file-based catalog entry
// from the install manifests (kustomize build config/default on stdin): a ClusterServiceVersion
// (install modes, the owned CRDs with descriptors, the RBAC, the manager Deployment), the CRDs,
// the metrics Service, the metrics-reader ClusterRole and the PrometheusRule.
//
// The admission policy is not in the bundle: OLM installs only a fixed list of kinds
// (ClusterServiceVersion, CRDs, RBAC, Services, ConfigMaps, Secrets, PrometheusRules,
// ServiceMonitors, PodMonitors, ...), and ValidatingAdmissionPolicy is not among them. The
// platform applies config/policy next to an OLM install (docs/install.md#olm).
//
//	kustomize build config/default | go run ./hack/bundle -version 0.1.0 -image IMG -out bundle -catalog catalog
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	packageName = "inference-exposure-operator"
	channel     = "candidate"
	namespace   = "inference-exposure-system"
	repository  = "https://github.com/inference-exposure/inference-exposure-operator"
)

func main() {
	version := flag.String("version", "0.1.0", "the bundle's semantic version")
	image := flag.String("image", "inference-exposure-operator:dev", "the manager's image")
	bundleImage := flag.String("bundle-image", "", "the bundle's image, for the catalog entry (default: <image>-bundle:v<version>)")
	out := flag.String("out", "bundle", "the bundle directory to write")
	catalog := flag.String("catalog", "", "the file-based catalog directory to write (none when empty)")
	rules := flag.String("prometheus-rule", "config/prometheus/prometheusrule.yaml", "the PrometheusRule to ship")
	samples := flag.String("samples", "config/samples/exposure_v1alpha1_inferencetenant.yaml,config/samples/exposure_v1alpha1_inferenceexposure.yaml", "the examples (alm-examples), comma-separated")
	flag.Parse()
	if *bundleImage == "" {
		*bundleImage = strings.SplitN(*image, ":", 2)[0] + "-bundle:v" + *version
	}
	objs, err := decodeAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var examples []*unstructured.Unstructured
	for _, path := range strings.Split(*samples, ",") {
		f, err := os.Open(path)
		if err != nil {
			fail(err)
		}
		list, err := decodeAll(f)
		_ = f.Close()
		if err != nil {
			fail(err)
		}
		for _, o := range list {
			if strings.HasPrefix(o.GetAPIVersion(), "exposure.inference.dev/") {
				examples = append(examples, o)
			}
		}
	}
	files, err := build(objs, examples, *version, *image)
	if err != nil {
		fail(err)
	}
	if b, err := os.ReadFile(*rules); err == nil {
		files["manifests/"+packageName+"-alerts_monitoring.coreos.com_v1_prometheusrule.yaml"] = b
	} else {
		fail(err)
	}
	if err := writeAll(*out, files); err != nil {
		fail(err)
	}
	if *catalog != "" {
		crds := ownedCRDs(objs)
		if err := writeAll(*catalog, map[string][]byte{packageName + "/index.yaml": catalogEntry(*version, *bundleImage, crds)}); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bundle:", err)
	os.Exit(1)
}

func decodeAll(r io.Reader) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bufio.NewReader(r), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

func writeAll(dir string, files map[string][]byte) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	for name, b := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func toYAML(v any) []byte {
	b, err := yaml.Marshal(v)
	if err != nil {
		fail(err)
	}
	return b
}

// crdInfo is what the CSV and the catalog say of an owned CRD.
type crdInfo struct {
	name, group, version, kind, plural string
}

func ownedCRDs(objs []*unstructured.Unstructured) []crdInfo {
	var out []crdInfo
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		plural, _, _ := unstructured.NestedString(o.Object, "spec", "names", "plural")
		versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
		version := ""
		for _, v := range versions {
			if m, ok := v.(map[string]any); ok && m["storage"] == true {
				version, _ = m["name"].(string)
			}
		}
		out = append(out, crdInfo{o.GetName(), group, version, kind, plural})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// build returns the bundle's files: the CSV and the objects OLM installs beside it.
func build(objs, examples []*unstructured.Unstructured, version, image string) (map[string][]byte, error) {
	files := map[string][]byte{}
	var clusterRules, nsRules []any
	var deployment map[string]any
	sa := ""
	for _, o := range objs {
		switch o.GetKind() {
		case "CustomResourceDefinition":
			files["manifests/"+o.GetName()+".yaml"] = toYAML(o.Object)
		case "ClusterRole":
			rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
			if strings.HasSuffix(o.GetName(), "metrics-reader") {
				// For the monitoring stack to read the metrics: a kind OLM installs.
				o.SetNamespace("")
				files["manifests/"+o.GetName()+"_rbac.authorization.k8s.io_v1_clusterrole.yaml"] = toYAML(clean(o))
				continue
			}
			clusterRules = append(clusterRules, rules...)
		case "Role":
			rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
			nsRules = append(nsRules, rules...)
		case "Service":
			o.SetNamespace("")
			files["manifests/"+o.GetName()+"_v1_service.yaml"] = toYAML(clean(o))
		case "ServiceAccount":
			sa = o.GetName()
		case "Deployment":
			spec, _, _ := unstructured.NestedMap(o.Object, "spec")
			containers, _, _ := unstructured.NestedSlice(spec, "template", "spec", "containers")
			for _, c := range containers {
				if m, ok := c.(map[string]any); ok && m["name"] == "manager" {
					m["image"] = image
				}
			}
			if err := unstructured.SetNestedSlice(spec, containers, "template", "spec", "containers"); err != nil {
				return nil, err
			}
			deployment = map[string]any{"name": o.GetName(), "label": o.GetLabels(), "spec": spec}
		}
	}
	if deployment == nil || sa == "" || len(clusterRules) == 0 {
		return nil, fmt.Errorf("the input lacks the manager Deployment, its ServiceAccount or its ClusterRole: pipe in kustomize build config/default")
	}
	var alm []any
	for _, e := range examples {
		alm = append(alm, clean(e))
	}
	// PortClaims are the operator's own (internal-objects hides them in the console); the
	// example shows what one holds.
	alm = append(alm, map[string]any{"apiVersion": "exposure.inference.dev/v1alpha1", "kind": "PortClaim",
		"metadata": map[string]any{"name": "block-30800"},
		"spec":     map[string]any{"tenant": "alpha", "tenantUID": "0c1e0b1e-0000-4000-8000-000000000001", "start": 30800, "end": 30809}})
	almJSON, err := json.Marshal(alm)
	if err != nil {
		return nil, err
	}
	csv := map[string]any{
		"apiVersion": "operators.coreos.com/v1alpha1",
		"kind":       "ClusterServiceVersion",
		"metadata": map[string]any{
			"name": packageName + ".v" + version,
			"annotations": map[string]any{
				"alm-examples":   string(almJSON),
				"capabilities":   "Basic Install",
				"categories":     "AI/Machine Learning,Networking",
				"containerImage": image,
				"description":    "NodePorts from per-tenant blocks, HTTPS routing and a tenant load balancer configuration for GPU inference servers.",
				"repository":     repository,
				"support":        "inference-exposure-operator maintainers",
				"operatorframework.io/suggested-namespace":         namespace,
				"operators.operatorframework.io/internal-objects":  `["portclaims.exposure.inference.dev"]`,
				"features.operators.openshift.io/disconnected":     "true",
				"features.operators.openshift.io/fips-compliant":   "false",
				"features.operators.openshift.io/proxy-aware":      "false",
				"features.operators.openshift.io/tls-profiles":     "false",
				"features.operators.openshift.io/token-auth-aws":   "false",
				"features.operators.openshift.io/token-auth-azure": "false",
				"features.operators.openshift.io/token-auth-gcp":   "false",
				"features.operators.openshift.io/cnf":              "false",
				"features.operators.openshift.io/cni":              "false",
				"features.operators.openshift.io/csi":              "false",
				"operators.openshift.io/valid-subscription":        `["none"]`,
			},
		},
		"spec": map[string]any{
			"displayName":    "Inference Exposure Operator",
			"description":    description,
			"version":        version,
			"minKubeVersion": "1.31.0",
			"maturity":       "alpha",
			"provider":       map[string]any{"name": "inference-exposure-operator maintainers", "url": repository},
			"maintainers":    []any{map[string]any{"name": "inference-exposure-operator maintainers", "email": "maintainers@inference-exposure.dev"}},
			"links": []any{
				map[string]any{"name": "Documentation", "url": repository + "/tree/main/docs"},
				map[string]any{"name": "Source", "url": repository},
			},
			"keywords": []any{"inference", "gpu", "nodeport", "ingress", "gateway-api", "haproxy", "multi-tenancy", "triton", "vllm"},
			"icon":     []any{map[string]any{"base64data": icon, "mediatype": "image/svg+xml"}},
			"installModes": []any{
				map[string]any{"type": "OwnNamespace", "supported": false},
				map[string]any{"type": "SingleNamespace", "supported": false},
				map[string]any{"type": "MultiNamespace", "supported": false},
				map[string]any{"type": "AllNamespaces", "supported": true},
			},
			"install": map[string]any{
				"strategy": "deployment",
				"spec": map[string]any{
					"clusterPermissions": []any{map[string]any{"serviceAccountName": sa, "rules": clusterRules}},
					"permissions":        []any{map[string]any{"serviceAccountName": sa, "rules": nsRules}},
					"deployments":        []any{deployment},
				},
			},
			"customresourcedefinitions": map[string]any{"owned": owned(objs)},
			"relatedImages":             []any{map[string]any{"name": "manager", "image": image}},
		},
	}
	files["manifests/"+packageName+".clusterserviceversion.yaml"] = toYAML(csv)
	files["metadata/annotations.yaml"] = toYAML(map[string]any{"annotations": bundleAnnotations()})
	var dockerfile bytes.Buffer
	dockerfile.WriteString("FROM scratch\n")
	for _, k := range sortedKeys(bundleAnnotations()) {
		fmt.Fprintf(&dockerfile, "LABEL %s=%s\n", k, bundleAnnotations()[k])
	}
	dockerfile.WriteString("COPY manifests /manifests/\nCOPY metadata /metadata/\n")
	files["bundle.Dockerfile"] = dockerfile.Bytes()
	return files, nil
}

func bundleAnnotations() map[string]string {
	return map[string]string{
		"operators.operatorframework.io.bundle.mediatype.v1":       "registry+v1",
		"operators.operatorframework.io.bundle.manifests.v1":       "manifests/",
		"operators.operatorframework.io.bundle.metadata.v1":        "metadata/",
		"operators.operatorframework.io.bundle.package.v1":         packageName,
		"operators.operatorframework.io.bundle.channels.v1":        channel,
		"operators.operatorframework.io.bundle.channel.default.v1": channel,
	}
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// clean drops what the server or kustomize fills and OLM must not get.
func clean(o *unstructured.Unstructured) map[string]any {
	c := o.DeepCopy()
	c.SetNamespace("")
	unstructured.RemoveNestedField(c.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(c.Object, "status")
	return c.Object
}

// owned describes the CRDs for the console: what each is, and the fields worth a form.
func owned(objs []*unstructured.Unstructured) []any {
	about := map[string]struct {
		display, description string
		spec, status         []any
		resources            []any
	}{
		"InferenceTenant": {"Inference Tenant", "A team: the namespaces it owns, its block of node ports, its host domain, its HAProxy VIP and its listeners on a shared Gateway. Written by the platform team.",
			[]any{
				descriptor("namespaces", "Namespaces", "The namespaces whose exposures belong to the tenant.", "urn:alm:descriptor:com.tectonic.ui:text"),
				descriptor("hostDomain", "Host domain", "Default hosts are <name>.<namespace>.<hostDomain>.", "urn:alm:descriptor:com.tectonic.ui:text"),
				descriptor("portBlock.size", "Port block size", "How many node ports the tenant's block holds.", "urn:alm:descriptor:com.tectonic.ui:number"),
			},
			[]any{
				descriptor("conditions", "Conditions", "Ready, BlockAllocated, NamespacesExclusive and the others.", "urn:alm:descriptor:io.kubernetes.conditions"),
				descriptor("block", "Port block", "The node ports the tenant holds.", "urn:alm:descriptor:text"),
			},
			[]any{map[string]any{"kind": "PortClaim", "name": "", "version": "v1alpha1"}, map[string]any{"kind": "ListenerSet", "name": "", "version": "v1"}}},
		"InferenceExposure": {"Inference Exposure", "A model server's selector and ports: a NodePort Service from its tenant's block, HTTPS routing, a PodMonitor, and its part of the HAProxy configuration. Written by the tenant.",
			[]any{
				descriptor("selector", "Selector", "The model server's pods.", "urn:alm:descriptor:com.tectonic.ui:selector:core:v1:Pod"),
				descriptor("ports.http", "HTTP port", "The REST port.", "urn:alm:descriptor:com.tectonic.ui:number"),
				descriptor("ports.grpc", "gRPC port", "The gRPC inference port.", "urn:alm:descriptor:com.tectonic.ui:number"),
				descriptor("router.type", "Router type", "Auto, Ingress, Route, Gateway or None.", "urn:alm:descriptor:com.tectonic.ui:select:Auto", "urn:alm:descriptor:com.tectonic.ui:select:Ingress", "urn:alm:descriptor:com.tectonic.ui:select:Route", "urn:alm:descriptor:com.tectonic.ui:select:Gateway", "urn:alm:descriptor:com.tectonic.ui:select:None"),
			},
			[]any{
				descriptor("conditions", "Conditions", "Ready, PortsAllocated, ServiceReady, Routed and the routing objects' own.", "urn:alm:descriptor:io.kubernetes.conditions"),
				descriptor("url", "URL", "Where the model server answers over HTTPS.", "urn:alm:descriptor:org.w3:link"),
				descriptor("grpcAddress", "gRPC address", "Where gRPC clients connect.", "urn:alm:descriptor:text"),
			},
			[]any{map[string]any{"kind": "Service", "name": "", "version": "v1"}, map[string]any{"kind": "Ingress", "name": "", "version": "v1"}, map[string]any{"kind": "HTTPRoute", "name": "", "version": "v1"}}},
		"PortClaim": {"Port Claim", "The lock on a block of node ports (internal: made and removed by the operator).", nil, nil, nil},
	}
	var out []any
	for _, c := range ownedCRDs(objs) {
		a := about[c.kind]
		entry := map[string]any{"name": c.name, "version": c.version, "kind": c.kind, "displayName": a.display, "description": a.description}
		if a.spec != nil {
			entry["specDescriptors"] = a.spec
		}
		if a.status != nil {
			entry["statusDescriptors"] = a.status
		}
		if a.resources != nil {
			entry["resources"] = a.resources
		}
		out = append(out, entry)
	}
	return out
}

func descriptor(path, display, description string, xdescriptors ...string) map[string]any {
	x := make([]any, len(xdescriptors))
	for i, d := range xdescriptors {
		x[i] = d
	}
	return map[string]any{"path": path, "displayName": display, "description": description, "x-descriptors": x}
}

// catalogEntry is the package's file-based catalog: the package, its channel and the bundle.
func catalogEntry(version, bundleImage string, crds []crdInfo) []byte {
	bundle := packageName + ".v" + version
	docs := []any{
		map[string]any{"schema": "olm.package", "name": packageName, "defaultChannel": channel,
			"description": "NodePorts from per-tenant blocks, HTTPS routing and a tenant load balancer configuration for GPU inference servers.",
			"icon":        map[string]any{"base64data": icon, "mediatype": "image/svg+xml"}},
		map[string]any{"schema": "olm.channel", "package": packageName, "name": channel, "entries": []any{map[string]any{"name": bundle}}},
	}
	props := []any{map[string]any{"type": "olm.package", "value": map[string]any{"packageName": packageName, "version": version}}}
	for _, c := range crds {
		props = append(props, map[string]any{"type": "olm.gvk", "value": map[string]any{"group": c.group, "kind": c.kind, "version": c.version}})
	}
	docs = append(docs, map[string]any{"schema": "olm.bundle", "package": packageName, "name": bundle, "image": bundleImage, "properties": props})
	var b bytes.Buffer
	for _, d := range docs {
		b.WriteString("---\n")
		b.Write(toYAML(d))
	}
	return b.Bytes()
}

const description = `The Inference Exposure Operator exposes GPU model servers (Triton, vLLM, TGI, NIM) to
many tenants on one cluster.

* **InferenceTenant** (the platform team's): the namespaces a team owns, its block of node
  ports (never overlapping another's), its host domain, its HAProxy VIP, and optionally its own
  HTTPS listeners on a shared Gateway.
* **InferenceExposure** (the team's): a model server's selector and ports. It gets a NodePort
  Service from the tenant's block for raw gRPC, HTTPS routing through an Ingress, an OpenShift
  Route or Gateway API routes (optionally through an InferencePool), a PodMonitor for its
  metrics, and its part of a rendered HAProxy configuration for the tenant load balancer.

**Also install the admission policy** that limits what the operator's ServiceAccount may
write: OLM does not install ValidatingAdmissionPolicies. Install the operator in the namespace
inference-exposure-system (an OperatorGroup for all namespaces there), then apply
config/policy from the repository. See the documentation's install page.`

// icon is a small SVG: a node with two links.
const icon = "PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHZpZXdCb3g9IjAgMCA2NCA2NCI+PGNpcmNsZSBjeD0iMzIiIGN5PSIzMiIgcj0iMTIiIGZpbGw9IiMzMjZjZTUiLz48cGF0aCBkPSJNOCA4TDIzIDIzTTU2IDhMNDEgMjNNMzIgNDRWNjAiIHN0cm9rZT0iIzMyNmNlNSIgc3Ryb2tlLXdpZHRoPSI0Ii8+PC9zdmc+"
