package testenv

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CheckRestricted creates, with a server-side dry run, a Pod of the pod template of every
// Deployment among objs in a namespace that enforces the Pod Security "restricted" level, on a
// fresh control plane: the API server's own PodSecurity admission decides. A privileged Pod is
// refused there first, so the check cannot pass because enforcement is off.
func CheckRestricted(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	env, err := Start(false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(env.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const ns = "restricted"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"}}}); err != nil {
		t.Fatal(err)
	}
	privileged := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "privileged"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Image: "busybox", SecurityContext: &corev1.SecurityContext{Privileged: new(true)}}}}}
	if err := c.Create(ctx, privileged, client.DryRunAll); err == nil {
		t.Fatal("a privileged Pod was admitted: the API server does not enforce Pod Security here")
	}
	found := 0
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		found++
		tmpl, ok, err := unstructured.NestedMap(o.Object, "spec", "template")
		if err != nil || !ok {
			t.Fatalf("Deployment %s has no pod template: %v", o.GetName(), err)
		}
		pod := &corev1.Pod{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(tmpl, pod); err != nil {
			t.Fatal(err)
		}
		pod.Namespace, pod.Name = ns, o.GetName()
		pod.Spec.ServiceAccountName = "" // its ServiceAccount is not installed here
		if err := c.Create(ctx, pod, client.DryRunAll); err != nil {
			t.Errorf("Deployment %s's pods do not meet the Pod Security restricted level: %v", o.GetName(), err)
		}
	}
	if found == 0 {
		t.Fatal("no Deployment to check")
	}
}
